#include "run/failure_shell.h"

#include "judge/judge.h"
#include "run/guest_shell.h"
#include "util/fs.h"

#include <fmt/format.h>

#include <unistd.h>

namespace labctl {

namespace {

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

std::string step_name(const Scenario& scenario, size_t index) {
  return fmt::format("step {} ({}:{})", index + 1, scenario.file.filename().string(),
                     scenario.steps[index].line);
}

// A line on stderr, on a line of its own: replacing the progress line, or after the guest's
// output, which may have left a prompt on the current line.
void say(const std::string& text, bool after_console) {
  std::string prefix = after_console ? "\n" : ::isatty(STDERR_FILENO) ? "\r\033[K" : "";
  write_all(STDERR_FILENO, prefix + text + "\n");
}

// Why no shell can open in this guest, or empty when one can.
std::string no_shell_reason(GuestSession& session, bool responsive) {
  if (session.vm().exit_status()) {
    for (const auto& f : session.faults())
      if (f.fault.kind == "panic")
        return fmt::format("the guest kernel panicked ({})", f.fault.title);
    return "QEMU exited";
  }
  if (!responsive)
    return "the guest does not answer on its control channel";
  return {};
}

} // namespace

std::optional<std::string> failure_stop_reason(const Scenario& scenario, const Observations& seen,
                                               const std::vector<AttributedFault>& faults) {
  if (seen.boot && seen.boot->outcome != WaitOutcome::ok) {
    if (seen.boot->panic)
      return fmt::format("the guest kernel panicked during boot: {}", seen.boot->panic->title);
    return fmt::format("the guest did not boot ({})", describe(seen.boot->outcome));
  }
  if (seen.boot)
    for (const auto& m : seen.boot->modules)
      if (m.failed())
        return fmt::format("module {} did not load: {}", m.name, first_line(m.error_text));
  if (!seen.gdb_error.empty())
    return "gdb could not attach: " + first_line(seen.gdb_error);
  for (size_t i = 0; i < seen.steps.size() && i < scenario.steps.size(); ++i) {
    const StepResult& result = seen.steps[i].result;
    if (result.outcome != WaitOutcome::ok)
      return fmt::format("{} {}", step_name(scenario, i), describe(result.outcome));
    auto broken = judge_step(scenario.steps[i], result);
    if (!broken.empty())
      return fmt::format("{} failed: {}", step_name(scenario, i), first_line(broken.front()));
  }
  for (const auto& f : faults) {
    if (fault_expected(scenario.expect, f.fault.kind))
      continue;
    std::string where = f.phase.name;
    if (f.phase.name == "step" && f.phase.step >= 1 &&
        static_cast<size_t>(f.phase.step) <= scenario.steps.size())
      where = step_name(scenario, static_cast<size_t>(f.phase.step) - 1);
    return fmt::format("kernel fault in {}: {}", where, f.fault.title);
  }
  return std::nullopt;
}

void shell_in_failed_guest(GuestSession& session, const FailedGuest& guest) {
  std::string head = fmt::format("labctl run: {}: {}", guest.scenario, guest.why);
  if (std::string no_shell = no_shell_reason(session, guest.responsive); !no_shell.empty()) {
    say(fmt::format("{}; no shell: {}; the run goes on to its report", head, no_shell), false);
    return;
  }
  std::string intro = head + "; shell in the guest as the failure left it";
  fs::path script = guest.artifacts.path(Artifact::gdb_script);
  std::error_code ec;
  if (guest.gdb) {
    if (fs::exists(script, ec))
      intro += fmt::format("; gdb: gdb -x {}", script.string());
    else
      intro += "; no gdb.script (it is written once every module loaded)";
  }
  GuestShellRequest request{.intro = intro,
                            .transcript = guest.artifacts.path(Artifact::console_log),
                            .gdb = guest.gdb,
                            .say_line = [](const std::string& line) { say(line, false); }};
  GuestShellEnd end = run_guest_shell(session, request);
  say(fmt::format("labctl run: {}; {} goes on to its report", end.text, guest.scenario),
      end.connected);
}

} // namespace labctl
