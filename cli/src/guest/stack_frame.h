#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// One frame of a kernel fault report as the kernel prints it (`%pS`/`%pB`):
// "labctl_fault_write+0x40/0x14a [labctl_fault]", a symbol, the offset into it, its length
// and, for a module, the module's name.
struct StackFrame {
  std::string text;     // as printed: "hidden_write+0x15/0x30 [hidden_oops]"
  std::string function; // the symbol: "hidden_write", "labctl_fault_write.cold"
  uint64_t offset = 0;  // bytes into the symbol
  uint64_t size = 0;    // the symbol's length
  std::string module;   // "hidden_oops"; empty for the kernel itself (vmlinux)
  // The faulting instruction itself (a "RIP:" line, a WARNING's "at ... func+off/len"),
  // not a return address in a call trace (whose call is one byte before it).
  bool exact = false;
  // False for a "? func+off/len" line: a stale address the unwinder found on the stack.
  bool reliable = true;

  bool operator==(const StackFrame&) const = default;
};

// The frames of one fault report (KernelFault::report), in the order they appear, each
// frame text once (a RIP frame repeated in the trace counts once). Any bytes are accepted:
// a line that holds no frame gives none.
std::vector<StackFrame> stack_frames(std::string_view report);

} // namespace labctl
