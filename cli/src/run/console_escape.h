#pragma once

#include <string>
#include <string_view>

namespace labctl {

// Splits what the user types into bytes for the guest and labctl's escape commands, the
// way QEMU's -nographic does: Ctrl-A x leaves, Ctrl-A h asks for help, Ctrl-A Ctrl-A sends
// one Ctrl-A; Ctrl-A followed by anything else sends both bytes. An escape may be split
// across reads.
class ConsoleEscape {
public:
  static constexpr char k_prefix = '\x01'; // Ctrl-A

  enum class Command { none, leave, help };

  struct Output {
    std::string to_guest;
    Command command = Command::none; // bytes after `leave` are dropped
  };

  Output feed(std::string_view bytes);

private:
  bool m_after_prefix = false;
};

} // namespace labctl
