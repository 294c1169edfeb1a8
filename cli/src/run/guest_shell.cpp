#include "run/guest_shell.h"

#include "run/console_escape.h"
#include "util/fs.h"
#include "util/terminal.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <unistd.h>

namespace labctl {

const char* const k_guest_shell_keys =
    "labctl keys: Ctrl-A x leave (stops the VM) | Ctrl-A Ctrl-A send Ctrl-A | "
    "Ctrl-A h this help";

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using How = GuestShellEnd::How;

// The control channel answers one request at a time, and the request that starts the shell
// must not stay outstanding (window-size changes need the channel too): the shell runs in
// the background in the guest, and labctl asks this often whether it is still there.
constexpr auto k_poll_interval = 1s;
// A poll or resize request the guest does not answer in this time is given up (the guest
// may be busy, or held at a gdb breakpoint); the session goes on.
constexpr auto k_request_patience = 5s;

// The guest shell's TERM: the host's when it is a plain name, else a safe default.
std::string guest_term(bool tty) {
  const char* term = std::getenv("TERM");
  std::string t = term ? term : "";
  if (!tty || t.empty() ||
      t.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+") !=
          std::string::npos)
    return tty ? "vt100" : "dumb";
  return t;
}

class GuestShell {
public:
  GuestShell(GuestSession& session, const GuestShellRequest& request)
      : m_session(session), m_request(request), m_tty(::isatty(request.in_fd) != 0) {}

  GuestShellEnd run() {
    GuestShellEnd end = start() ? drive() : m_end;
    m_raw.reset(); // the terminal is itself again before the caller prints anything
    m_session.vm().watch(-1, nullptr);
    m_session.vm().on_console_bytes = nullptr;
    end.connected = m_connected;
    return end;
  }

private:
  GuestShellEnd ended(How how, std::string text) { return {how, std::move(text), m_connected}; }

  bool start() {
    TerminalSize size = m_tty ? terminal_size(m_request.in_fd) : TerminalSize{};
    m_request.say_line(fmt::format("{}; leave with Ctrl-A x{}; transcript in {}", m_request.intro,
                                   m_tty ? " (Ctrl-A h: keys)" : ", or end of input",
                                   m_request.transcript.string()));
    // Raw before the shell starts: it asks the terminal for the cursor position at once, and
    // the terminal's answer must reach the guest rather than be echoed here.
    if (m_tty) {
      install_window_size_handler();
      m_raw = std::make_unique<RawTerminal>(m_request.in_fd);
    }
    // From here on the console is the user's: the shell's banner and prompt included.
    m_session.vm().on_console_bytes = [this](std::string_view bytes) {
      write_all(m_request.out_fd, bytes);
    };
    m_connected = true;
    auto deadline = Clock::now() + 60s;
    // The agent's SHELL verb starts login on ttyS0 in the background and answers its PID.
    auto step =
        m_session.run_verb("SHELL",
                           {std::to_string(size.rows > 0 ? size.rows : 0),
                            std::to_string(size.cols > 0 ? size.cols : 0), guest_term(m_tty)},
                           30, deadline, deadline);
    int pid = 0;
    if (step.outcome == GuestSession::Outcome::ok && step.exit_code == 0)
      pid = std::atoi(step.out.c_str());
    if (pid > 0) {
      m_shell_pid = pid;
      return true;
    }
    if (step.outcome == GuestSession::Outcome::interrupted)
      m_end = ended(How::interrupted, "interrupted");
    else
      m_end = ended(How::not_started, fmt::format("could not start the guest shell ({}): {}",
                                                  GuestSession::describe(step.outcome), step.err));
    return false;
  }

  GuestShellEnd drive() {
    GuestLink& vm = m_session.vm();
    vm.watch(m_request.in_fd, [this] { input(); });
    auto next_poll = Clock::now() + k_poll_interval;
    for (;;) {
      auto event = vm.pump(
          [this] {
            if (take_window_resized())
              m_resized = true;
            return m_leave || m_resized;
          },
          next_poll);
      if (event == GuestLink::Event::interrupted)
        return ended(How::interrupted, "interrupted");
      if (event == GuestLink::Event::qemu_exited)
        return guest_ended();
      if (m_leave)
        return ended(How::left, "left with Ctrl-A x");
      if (m_resized) {
        m_resized = false;
        TerminalSize size = terminal_size(m_request.in_fd);
        if (size.rows > 0 && size.cols > 0)
          request("RESIZE", {std::to_string(size.rows), std::to_string(size.cols)});
        continue;
      }
      if (Clock::now() < next_poll)
        continue;
      next_poll = Clock::now() + k_poll_interval;
      auto answer = request("ALIVE", {std::to_string(m_shell_pid)});
      if (answer == "gone\n")
        return ended(How::shell_exited, "the guest shell exited");
      if (vm.exit_status())
        return guest_ended();
    }
  }

  // A short request on the control channel; its stdout, or empty when there was no answer.
  std::string request(std::string_view verb, const std::vector<std::string>& args) {
    // A guest held by gdb cannot answer; asking would only queue requests up.
    if (m_request.gdb) {
      auto running = m_session.vm().cpus_running();
      if (!running || !*running)
        return {};
    }
    auto deadline = Clock::now() + k_request_patience;
    auto step = m_session.run_verb(verb, args, 10, deadline, deadline);
    return step.outcome == GuestSession::Outcome::ok ? step.out : std::string();
  }

  // A line from labctl while the terminal is raw: on a line of its own, "\r\n" ends.
  void say_raw(const std::string& text) { write_all(STDERR_FILENO, "\r\n" + text + "\r\n"); }

  // Bytes from the user's terminal (or a pipe) for the guest's console.
  void input() {
    char buf[4096];
    ssize_t n = ::read(m_request.in_fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      return;
    GuestLink& vm = m_session.vm();
    if (n <= 0) {
      vm.watch(-1, nullptr);
      if (m_tty) {
        m_leave = true; // the terminal went away
      } else {
        // End of scripted input: Ctrl-D, so the guest shell sees end of input too.
        vm.send_console("\x04");
      }
      return;
    }
    std::string_view bytes(buf, static_cast<size_t>(n));
    if (!m_tty) {
      vm.send_console(bytes);
      return;
    }
    auto out = m_escape.feed(bytes);
    if (!out.to_guest.empty())
      vm.send_console(out.to_guest);
    if (out.command == ConsoleEscape::Command::help)
      say_raw(k_guest_shell_keys);
    if (out.command == ConsoleEscape::Command::leave)
      m_leave = true;
  }

  GuestShellEnd guest_ended() {
    for (const auto& f : m_session.faults())
      if (f.fault.kind == "panic")
        return ended(How::panicked, "the guest kernel panicked");
    return ended(How::guest_stopped, "the guest stopped (QEMU exited)");
  }

  GuestSession& m_session;
  const GuestShellRequest& m_request;
  bool m_tty;
  std::unique_ptr<RawTerminal> m_raw;
  ConsoleEscape m_escape;
  int m_shell_pid = 0;
  bool m_leave = false;
  bool m_resized = false;
  bool m_connected = false; // the guest's console is shown on the terminal
  GuestShellEnd m_end;
};

} // namespace

GuestShellEnd run_guest_shell(GuestSession& session, const GuestShellRequest& request) {
  return GuestShell(session, request).run();
}

} // namespace labctl
