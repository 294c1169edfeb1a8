#pragma once

#include "guest/stack_frame.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace labctl {

// Where a frame's address lies in the source: a function, its file and line.
struct SourceLocation {
  std::string function; // "labctl_fault_write"
  std::string file;     // "/home/me/drv/x.c" (for a module built here, the user's file)
  int line = 0;
  int column = 0; // 0: unknown

  bool operator==(const SourceLocation&) const = default;
};

// A file with debug info that frames are resolved in: a module's .ko, or a debug vmlinux.
struct DebugObject {
  std::string module;         // the name frames carry ("labctl_fault"); empty: the kernel
  std::filesystem::path file; // the .ko, or vmlinux
  // Turns a file name the compiler recorded into the one to show (a build copy's path
  // into the user's file); unset: as recorded.
  std::function<std::string(const std::string&)> map_path;
};

// Resolves `func+off/len [module]` frames to function, file and line from the objects' own
// DWARF with elfutils' libdwfl (an ET_REL .ko is laid out by dwfl_report_offline, so no load
// address is needed: the symbol table gives the function, the offset the instruction).
// Objects are opened when a frame first needs them. It never throws for what it reads: an
// unknown module or symbol, a file that is missing or has no DWARF leaves the frame
// unresolved, with the reason in problems().
class Symbolizer {
public:
  explicit Symbolizer(std::vector<DebugObject> objects);
  ~Symbolizer();
  Symbolizer(Symbolizer&&) noexcept;
  Symbolizer& operator=(Symbolizer&&) noexcept;

  // The frame's source positions, innermost first: [0] is the line of the address; when
  // that code was inlined, [i] was inlined into [i + 1] at [i + 1]'s line, and the last is
  // the function the symbol belongs to. Empty: not resolved. A return address (a frame that
  // is not `exact`) is looked up one byte before, at its call.
  std::vector<SourceLocation> resolve(const StackFrame& frame);

  // Why objects or frames could not be resolved ("x.ko has no DWARF"), each once.
  const std::vector<std::string>& problems() const;

private:
  struct State;
  std::unique_ptr<State> m_state;
};

} // namespace labctl
