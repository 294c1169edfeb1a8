#include "run/shell_session.h"

#include "run/gdb_attach.h"
#include "run/guest_shell.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/shell_quote.h"
#include "vm/guest_session.h"

#include <fmt/format.h>
#include <unistd.h>

namespace labctl {

namespace {

using Clock = std::chrono::steady_clock;

class ShellSession {
public:
  ShellSession(const LabSetup& lab, const ShellRequest& request)
      : m_lab(lab), m_request(request), m_artifacts(request.guest.artifacts),
        m_status_line(::isatty(STDERR_FILENO) != 0) {}

  int run() {
    int code = start_and_drive(); // the terminal is itself again when it returns
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
  // prompt on the current line), or replacing the progress line.
  void say_line(const std::string& text) {
    std::string line;
    if (m_connected)
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
    return start_shell();
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

  int start_shell() {
    GuestShellRequest shell{.in_fd = m_request.in_fd,
                            .out_fd = m_request.out_fd,
                            .intro = "labctl shell: console of the guest (ttyS0)",
                            .transcript = m_artifacts.path(Artifact::console_log),
                            .gdb = m_gdb,
                            .say_line = [this](const std::string& line) { say_line(line); }};
    GuestShellEnd end = run_guest_shell(*m_session, shell);
    m_connected = end.connected;
    m_ending = end.text;
    using How = GuestShellEnd::How;
    switch (end.how) {
    case How::left:
    case How::shell_exited:
    case How::guest_stopped:
      return to_int(ExitCode::passed);
    case How::interrupted:
      return to_int(ExitCode::interrupted);
    case How::not_started:
      return failed("labctl shell: " + end.text);
    case How::panicked:
      break;
    }
    return to_int(ExitCode::failed);
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
  bool m_status_line;
  std::unique_ptr<GuestSession> m_session;
  bool m_gdb = false;
  bool m_connected = false; // the guest's console is shown on the terminal
  std::string m_ending = "ended";
};

} // namespace

int run_shell_session(const LabSetup& lab, const ShellRequest& request) {
  return ShellSession(lab, request).run();
}

} // namespace labctl
