#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// Every kind the scanner reports (KernelFault::kind), and so the kinds a scenario may name
// in expect.faults; docs/scenario.md lists them (a unit test compares the two). "slub":
// SLUB's own debugging (slub_debug=...) found a damaged slab object. "unknown": a "cut here"
// line without a header after it.
inline constexpr auto k_fault_kinds = std::to_array<std::string_view>(
    {"oops",           "bug",          "warning",      "panic",         "gpf",
     "invalid_opcode", "divide_error", "double_fault", "stack_segment", "soft_lockup",
     "hard_lockup",    "rcu_stall",    "hung_task",    "kasan",         "kfence",
     "kcsan",          "kmsan",        "ubsan",        "slub",          "unknown"});

// True when `kind` is one of k_fault_kinds.
constexpr bool is_fault_kind(std::string_view kind) {
  return std::find(k_fault_kinds.begin(), k_fault_kinds.end(), kind) != k_fault_kinds.end();
}

// One kernel problem report found in a kernel log.
struct KernelFault {
  // One of k_fault_kinds: oops (page fault, NULL dereference, "Oops:"), bug (BUG:, kernel
  // BUG at), warning, panic, gpf, ..., or unknown.
  std::string kind;
  // The header line without its timestamp, e.g.
  // "BUG: kernel NULL pointer dereference, address: 0000000000000000". A SLUB report whose
  // header only says "Object corrupt" (6.12) gets the reason line printed before it
  // appended: "BUG kmalloc-8 (Tainted: ...): Object corrupt [Right Redzone overwritten]".
  std::string title;
  // The report's lines without timestamps, from the "cut here" line (or the header) to its
  // end line ("---[ end trace ... ]---", "</TASK>", a "====" rule), or as far as it went.
  std::string report;
};

// Finds kernel fault reports in a kernel log fed line by line: console lines with or
// without the "[    1.234567] " timestamp, or /dev/kmsg records ("6,1234,5678,-;text",
// whose dictionary lines " KEY=value" are skipped). Headers are recognised only at the
// start of a message (after a "watchdog: ", "rcu: " or "NMI watchdog: " prefix), so
// "BUG" inside a word, taint notices and "Tainted:" fields are not faults.
class FaultScanner {
public:
  // A report ends after 1000 lines or once it holds this many bytes (plus the line that
  // crossed it), so a flood inside a report cannot grow memory.
  static constexpr size_t k_max_report_bytes = 128 * 1024;

  FaultScanner();
  ~FaultScanner();
  FaultScanner(FaultScanner&&) noexcept;
  FaultScanner& operator=(FaultScanner&&) noexcept;

  void feed_line(std::string_view line);
  // Reports completed since the last call, in the order they began.
  std::vector<KernelFault> take_faults();
  // Close a report still open (the log ended, e.g. a panic reset the machine).
  void flush();
  // Close a report whose stack dump has ended and that only lines continuing it could still
  // extend (a SLUB report's FIX lines, an RCU stall's second CPU): the caller knows that the
  // phase it happened in is over (a step answered), so that the report counts for it.
  void settle();

private:
  struct State;
  void feed_text(std::string_view text);
  std::unique_ptr<State> m_state;
};

} // namespace labctl
