#include "guest/stack_frame.h"

#include <re2/re2.h>

#include <algorithm>

namespace labctl {

namespace {

// A `%pS` frame: symbol+0xoff/0xlen, then " [module]" or " [module buildid]" for a module.
// The symbol starts after a blank, a ':' ("RIP: 0010:func+...") or the line's start.
const RE2& frame_pattern() {
  static const RE2 re(
      R"((?:^|[\s:])([A-Za-z_.$][A-Za-z0-9_.$]*)\+0x([0-9a-f]{1,16})/0x([0-9a-f]{1,16}))"
      R"((?: \[([A-Za-z0-9_-]{1,64})(?: [0-9a-f]+)?\])?)");
  return re;
}

} // namespace

std::vector<StackFrame> stack_frames(std::string_view report) {
  std::vector<StackFrame> frames;
  size_t start = 0;
  while (start < report.size()) {
    size_t end = report.find('\n', start);
    if (end == std::string_view::npos)
      end = report.size();
    std::string_view line = report.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    std::string_view trimmed = line.substr(std::min(line.find_first_not_of(' '), line.size()));
    bool unreliable = trimmed.starts_with("? ");
    bool exact = trimmed.starts_with("RIP: ") || trimmed.starts_with("WARNING: ");
    re2::StringPiece rest(line.data(), line.size());
    std::string function, offset, size, module;
    // A line may hold several frames (SLUB's "Allocated in f+0x1/0x2 [m] age=..."); only
    // the first counts, the others are rare enough not to matter.
    if (!RE2::FindAndConsume(&rest, frame_pattern(), &function, &offset, &size, &module))
      continue;
    StackFrame frame;
    frame.function = function;
    frame.offset = std::stoull(offset, nullptr, 16);
    frame.size = std::stoull(size, nullptr, 16);
    frame.module = module;
    frame.exact = exact;
    frame.reliable = !unreliable;
    frame.text =
        function + "+0x" + offset + "/0x" + size + (module.empty() ? "" : " [" + module + "]");
    bool seen = std::any_of(frames.begin(), frames.end(),
                            [&](const StackFrame& f) { return f.text == frame.text; });
    if (!seen)
      frames.push_back(std::move(frame));
  }
  return frames;
}

} // namespace labctl
