#include "run/shell_session.h"

#include "run/console_escape.h"
#include "run/gdb_attach.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/shell_quote.h"
#include "util/terminal.h"
#include "vm/guest_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace labctl {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The control channel answers one request at a time, and the request that starts the shell
// must not stay outstanding (window-size changes need the channel too): the shell runs in
// the background in the guest, and labctl asks this often whether it is still there.
constexpr auto k_poll_interval = 1s;
// A poll or resize request the guest does not answer in this time is given up (the guest
// may be busy, or held at a gdb breakpoint); the session goes on.
constexpr auto k_request_patience = 5s;

constexpr const char* k_keys_help =
    "labctl shell keys: Ctrl-A x leave (stops the VM) | Ctrl-A Ctrl-A send Ctrl-A | "
    "Ctrl-A h this help";

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

class ShellSession {
public:
  ShellSession(const LabSetup& lab, const ShellRequest& request)
      : m_lab(lab), m_request(request), m_artifacts(request.guest.artifacts),
        m_tty(::isatty(request.in_fd) != 0), m_status_line(::isatty(STDERR_FILENO) != 0) {}

  int run() {
    int code = start_and_drive();
    m_raw.reset(); // the terminal is itself again before anything else is printed
    if (m_session) {
      m_session->shutdown();
      report_faults();
    }
    if (interrupted()) {
      code = to_int(ExitCode::interrupted);
      m_ending = "interrupted";
    }
    say_line(
        fmt::format("labctl shell: {}; artifacts: {}", m_ending, m_artifacts.folder().string()));
    return code;
  }

private:
  // A line on stderr, on a line of its own: after the guest's output (which may have left a
  // prompt on the current line), or replacing the progress line; raw mode needs "\r\n".
  void say_line(const std::string& text) {
    std::string line;
    if (m_raw)
      line = "\r\n" + text + "\r\n";
    else if (m_connected)
      line = "\n" + text + "\n";
    else
      line = (m_status_line ? "\r\033[K" : "") + text + "\n";
    write_all(STDERR_FILENO, line);
  }

  void progress(const std::string& what) {
    if (m_status_line)
      write_all(STDERR_FILENO, "\r\033[Klabctl shell: " + what);
  }

  int failed(const std::string& why) {
    m_ending = "failed";
    say_line(why);
    return to_int(ExitCode::failed);
  }

  int start_and_drive() {
    if (auto made = m_artifacts.create(); !made)
      throw FatalError(made.error());
    auto guest =
        prepare_guest(m_lab, m_request.guest, [this](const std::string& what) { progress(what); });
    if (!guest) {
      if (guest.error().code != ExitCode::failed)
        throw FatalError(guest.error());
      return failed(guest.error().message);
    }
    progress("booting");
    auto session = GuestSession::start(guest->config);
    if (!session)
      throw FatalError(session.error());
    m_session = std::move(*session);
    (void)m_artifacts.write(Artifact::qemu_cmdline, shell_join(m_session->vm().argv()) + "\n");
    auto boot =
        m_session->wait_ready(Clock::now() + std::chrono::seconds(m_lab.profile.boot_timeout));
    if (boot.outcome != GuestSession::Outcome::ok)
      return boot_failed(boot.outcome);
    for (const auto& m : boot.modules)
      if (!m.ok)
        say_line(fmt::format("labctl shell: {} {} failed to load: {}",
                             m.optional ? "soft dependency" : "module", m.name, m.error_text));

    if (guest->config.launch.gdb) {
      auto gdb = attach_gdb(*m_session, *guest, m_request.gdb_wait);
      if (!gdb)
        return interrupted() ? to_int(ExitCode::interrupted) : failed(gdb.error().message);
    }
    m_gdb = guest->config.launch.gdb;
    if (!start_shell())
      return m_ending == "interrupted" ? to_int(ExitCode::interrupted) : to_int(ExitCode::failed);
    return drive();
  }

  int boot_failed(GuestSession::Outcome outcome) {
    if (outcome == GuestSession::Outcome::interrupted) {
      m_ending = "interrupted";
      return to_int(ExitCode::interrupted);
    }
    std::string console;
    for (const auto& line : m_session->vm().recent_console())
      console += "  | " + line + "\n";
    return failed(fmt::format("labctl shell: the guest did not boot ({}); last console lines:\n{}",
                              GuestSession::describe(outcome), console));
  }

  bool start_shell() {
    TerminalSize size = m_tty ? terminal_size(m_request.in_fd) : TerminalSize{};
    say_line(fmt::format("labctl shell: console of the guest (ttyS0); leave with Ctrl-A x{}; "
                         "transcript in {}",
                         m_tty ? " (Ctrl-A h: keys)" : ", or end of input",
                         m_artifacts.path(Artifact::console_log).string()));
    // Raw before the shell starts: it asks the terminal for the cursor position at once, and
    // the terminal's answer must reach the guest rather than be echoed here.
    if (m_tty) {
      install_window_size_handler();
      m_raw = std::make_unique<RawTerminal>(m_request.in_fd);
    }
    // From here on the console is the user's: the shell's banner and prompt included.
    m_session->vm().on_console_bytes = [this](std::string_view bytes) {
      write_all(m_request.out_fd, bytes);
    };
    m_connected = true;
    auto deadline = Clock::now() + 60s;
    // The agent's SHELL verb starts login on ttyS0 in the background and answers its PID.
    auto step =
        m_session->run_verb("SHELL",
                            {std::to_string(size.rows > 0 ? size.rows : 0),
                             std::to_string(size.cols > 0 ? size.cols : 0), guest_term(m_tty)},
                            30, deadline, deadline);
    int pid = 0;
    if (step.outcome == GuestSession::Outcome::ok && step.exit_code == 0)
      pid = std::atoi(step.out.c_str());
    if (pid <= 0) {
      if (step.outcome == GuestSession::Outcome::interrupted) {
        m_ending = "interrupted";
        return false;
      }
      failed(fmt::format("labctl shell: could not start the guest shell ({}): {}",
                         GuestSession::describe(step.outcome), step.err));
      return false;
    }
    m_shell_pid = pid;
    return true;
  }

  int drive() {
    GuestLink& vm = m_session->vm();
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
      if (event == GuestLink::Event::interrupted) {
        m_ending = "interrupted";
        return to_int(ExitCode::interrupted);
      }
      if (event == GuestLink::Event::qemu_exited)
        return guest_ended();
      if (m_leave) {
        m_ending = "left with Ctrl-A x";
        return to_int(ExitCode::passed);
      }
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
      if (answer == "gone\n") {
        m_ending = "the guest shell exited";
        return to_int(ExitCode::passed);
      }
      if (vm.exit_status())
        return guest_ended();
    }
  }

  // A short request on the control channel; its stdout, or empty when there was no answer.
  std::string request(std::string_view verb, const std::vector<std::string>& args) {
    // A guest held by gdb cannot answer; asking would only queue requests up.
    if (m_gdb) {
      auto running = m_session->vm().cpus_running();
      if (!running || !*running)
        return {};
    }
    auto deadline = Clock::now() + k_request_patience;
    auto step = m_session->run_verb(verb, args, 10, deadline, deadline);
    return step.outcome == GuestSession::Outcome::ok ? step.out : std::string();
  }

  // Bytes from the user's terminal (or a pipe) for the guest's console.
  void input() {
    char buf[4096];
    ssize_t n = ::read(m_request.in_fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      return;
    GuestLink& vm = m_session->vm();
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
      say_line(k_keys_help);
    if (out.command == ConsoleEscape::Command::leave)
      m_leave = true;
  }

  int guest_ended() {
    for (const auto& f : m_session->faults())
      if (f.fault.kind == "panic") {
        m_ending = "the guest kernel panicked";
        return to_int(ExitCode::failed);
      }
    m_ending = "the guest stopped (QEMU exited)";
    return to_int(ExitCode::passed);
  }

  void report_faults() {
    std::string text;
    for (const auto& f : m_session->faults())
      text += fmt::format("=== {} in {}\n{}\n", f.fault.title, f.phase.name, f.fault.report);
    if (text.empty())
      return;
    (void)m_artifacts.write(Artifact::faults, text);
    say_line(fmt::format("labctl shell: {} kernel fault report(s) on the console, first: {} "
                         "(see faults.txt)",
                         m_session->faults().size(), m_session->faults().front().fault.title));
  }

  const LabSetup& m_lab;
  const ShellRequest& m_request;
  const ArtifactFolder& m_artifacts;
  bool m_tty;
  bool m_status_line;
  std::unique_ptr<GuestSession> m_session;
  std::unique_ptr<RawTerminal> m_raw;
  ConsoleEscape m_escape;
  int m_shell_pid = 0;
  bool m_gdb = false;
  bool m_leave = false;
  bool m_resized = false;
  bool m_connected = false; // the guest's console is shown on the terminal
  std::string m_ending = "ended";
};

} // namespace

int run_shell_session(const LabSetup& lab, const ShellRequest& request) {
  return ShellSession(lab, request).run();
}

} // namespace labctl
