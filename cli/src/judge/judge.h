#pragma once

#include "config/scenario.h"

#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// What one step did in the guest.
struct StepRun {
  int exit_code = 0;
  std::string out;
  std::string err;
  bool timed_out = false;
  double seconds = 0;
};

// A kernel fault the console scanner found, as far as judging needs it.
struct ObservedFault {
  std::string kind;  // one of k_fault_kinds
  std::string title; // its headline, e.g. "BUG: kernel NULL pointer dereference, address: 0"
};

// Why a step failed, one human-readable message per broken expectation; empty = passed.
std::vector<std::string> judge_step(const Step& step, const StepRun& run);

// Unmatched expect.kernel_log regexes and matched expect.kernel_log_absent ones (with the
// line that matched). CRLF line ends count as LF. Empty = passed.
std::vector<std::string> judge_kernel_log(const Expect& expect, std::string_view kernel_log);

// Faults the scenario did not expect, and expected fault kinds that never occurred.
std::vector<std::string> judge_faults(const Expect& expect,
                                      const std::vector<ObservedFault>& faults);

// True when the scenario lists `kind` in expect.faults, so such a fault is not a failure.
bool fault_expected(const Expect& expect, std::string_view kind);

// `text` escaped (escape_bytes) and double-quoted; when longer than about `limit` bytes,
// a window starting near byte `from` with "..." marks and the total size.
std::string quote_excerpt(std::string_view text, size_t from = 0, size_t limit = 200);

} // namespace labctl
