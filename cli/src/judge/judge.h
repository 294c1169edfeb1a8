#pragma once

#include "config/scenario.h"
#include "judge/observations.h"
#include "judge/verdict.h"
#include "vm/step_result.h"

#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// A scenario's verdict and why, one human-readable message per broken expectation.
struct Judgement {
  Verdict verdict = Verdict::passed;
  ExitCode exit_code = ExitCode::passed; // what this scenario alone makes labctl exit with
  std::vector<std::vector<std::string>> step_failures; // one entry per observed step
  std::vector<std::string> failures; // beyond the steps: boot, kernel log, faults, errors
  std::string debugcon_diff;         // unified diff when debugcon differed
  std::string skip_reason;           // for Verdict::skipped: why the scenario does not apply
  // Why the scenario's steps after the observed ones did not run ("step 2 failed"); empty
  // when every step ran or the scenario was skipped.
  std::string steps_not_run;
};

// The verdict of one scenario from what its run observed. Pure: no I/O, no clock.
Judgement judge(const Scenario& scenario, const Observations& observations);

// A kernel fault the console scanner found, as far as judging needs it.
struct ObservedFault {
  std::string kind;  // one of k_fault_kinds
  std::string title; // its headline, e.g. "BUG: kernel NULL pointer dereference, address: 0"
};

// Why a step whose answer arrived (outcome ok) failed, one human-readable message per
// broken expectation; empty = passed.
std::vector<std::string> judge_step(const Step& step, const StepResult& run);

// Why a step declared to end the guest ("ends_guest") failed: it returned, the guest ended
// another way, or the wait ended otherwise. Empty = the guest ended as declared.
std::vector<std::string> judge_guest_end(const Step& step, const StepObservation& seen);

// Unmatched expect.kernel_log regexes and matched expect.kernel_log_absent ones (with the
// line that matched). CRLF line ends count as LF. `lost` records the log lacks are named in
// an unmatched regex's message. Empty = passed.
std::vector<std::string> judge_kernel_log(const Expect& expect, std::string_view kernel_log,
                                          size_t lost = 0);

// Faults the scenario did not expect, and expected fault kinds that never occurred.
std::vector<std::string> judge_faults(const Expect& expect,
                                      const std::vector<ObservedFault>& faults);

// True when the scenario lists `kind` in expect.faults, so such a fault is not a failure.
bool fault_expected(const Expect& expect, std::string_view kind);

// The last `last` of `lines`, each as "  | line\n", for a message that quotes the console.
std::string join_lines(const std::deque<std::string>& lines, size_t last);

// `text` escaped (escape_bytes) and double-quoted; when longer than about `limit` bytes,
// a window starting near byte `from` with "..." marks and the total size.
std::string quote_excerpt(std::string_view text, size_t from = 0, size_t limit = 200);

} // namespace labctl
