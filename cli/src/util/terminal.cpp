#include "util/terminal.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <sys/ioctl.h>
#include <unistd.h>

namespace labctl {

namespace {
std::atomic<bool> g_resized{false};

void on_winch(int) {
  g_resized = true;
}
} // namespace

TerminalSize terminal_size(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0)
    return {};
  return {ws.ws_row, ws.ws_col};
}

RawTerminal::RawTerminal(int fd) : m_fd(fd) {
  if (!::isatty(fd) || ::tcgetattr(fd, &m_saved) != 0)
    return;
  termios raw = m_saved;
  ::cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  m_active = ::tcsetattr(fd, TCSADRAIN, &raw) == 0;
}

RawTerminal::~RawTerminal() {
  restore();
}

void RawTerminal::restore() {
  if (!m_active)
    return;
  m_active = false;
  // A signal may interrupt tcsetattr; the saved modes must come back regardless.
  while (::tcsetattr(m_fd, TCSADRAIN, &m_saved) != 0 && errno == EINTR) {
  }
}

void install_window_size_handler() {
  struct sigaction sa = {};
  sa.sa_handler = on_winch;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGWINCH, &sa, nullptr);
}

bool take_window_resized() {
  return g_resized.exchange(false);
}

} // namespace labctl
