#pragma once

#include <termios.h>

namespace labctl {

// A terminal's size in character cells; 0 when unknown.
struct TerminalSize {
  int rows = 0;
  int cols = 0;
};

// The size of the terminal behind `fd`, or {0, 0} when it is not a terminal.
TerminalSize terminal_size(int fd);

// Puts a terminal into raw mode (no echo, no line editing, no signals from keys: Ctrl-C is
// a byte) for its lifetime, and restores the saved modes when destroyed.
class RawTerminal {
public:
  // Does nothing when `fd` is not a terminal (active() is then false).
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  bool active() const { return m_active; }
  // Put the saved modes back now; idempotent.
  void restore();

private:
  int m_fd;
  bool m_active = false;
  termios m_saved{};
};

// SIGWINCH sets a flag (and interrupts poll) instead of being ignored.
void install_window_size_handler();
// True once after each SIGWINCH.
bool take_window_resized();

} // namespace labctl
