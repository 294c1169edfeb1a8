// Fuzz target: the kernel fault scanner, fed the input line by line as the console and
// /dev/kmsg deliver it. Whatever the lines, every fault has a known kind and a title, and
// a report never grows past its caps, and each frame stack_frames finds in it parses back to
// itself.
#include "guest/fault_scanner.h"
#include "guest/stack_frame.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace {

const std::set<std::string> k_kinds = {
    "oops",           "bug",          "warning",      "panic",         "gpf",
    "invalid_opcode", "divide_error", "double_fault", "stack_segment", "soft_lockup",
    "hard_lockup",    "rcu_stall",    "hung_task",    "kasan",         "kfence",
    "kcsan",          "kmsan",        "ubsan",        "slub",          "unknown"};

// `longest` is the longest line fed: a report may pass its cap by the line that crossed it.
void check(const std::vector<labctl::KernelFault>& faults, size_t longest) {
  for (const auto& f : faults) {
    if (!k_kinds.count(f.kind) || f.title.empty() || f.report.empty())
      __builtin_trap();
    if (f.report.size() > labctl::FaultScanner::k_max_report_bytes + longest + 1)
      __builtin_trap();
    for (const auto& frame : labctl::stack_frames(f.report)) {
      auto again = labctl::stack_frames(frame.text);
      if (frame.function.empty() || again.size() != 1 || again[0].text != frame.text)
        __builtin_trap();
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  labctl::FaultScanner scanner;
  size_t start = 0, longest = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    longest = std::max(longest, end - start);
    scanner.feed_line(text.substr(start, end - start));
    check(scanner.take_faults(), longest);
    start = end + 1;
  }
  scanner.flush();
  check(scanner.take_faults(), longest);
  return 0;
}
