#include "judge/debugcon_diff.h"
#include "judge/judge.h"
#include "judge/trace_check.h"
#include "util/errno_name.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace labctl {

namespace {

// True when `line` names the module `name` as a whole word ("kbleds: ...", "[kbleds]",
// "kbleds.ko"), not as part of another name ("led" is not in "[kbleds]"). The kernel spells
// a module's '-' as '_'.
bool names_module(std::string_view line, std::string_view name) {
  if (name.empty())
    return false;
  auto word_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  };
  std::string underscored(name);
  std::replace(underscored.begin(), underscored.end(), '-', '_');
  for (std::string_view spelling : {name, std::string_view(underscored)})
    for (size_t at = line.find(spelling); at != std::string_view::npos;
         at = line.find(spelling, at + 1)) {
      size_t end = at + spelling.size();
      if ((at == 0 || !word_char(line[at - 1])) && (end == line.size() || !word_char(line[end])))
        return true;
    }
  return false;
}

// Builds a Judgement in the order things happened; an error (the run's own trouble) makes
// the verdict error, the last error's code the exit code.
class ScenarioJudge {
public:
  ScenarioJudge(const Scenario& scenario, const Observations& seen)
      : m_scenario(scenario), m_seen(seen) {}

  Judgement run() {
    if (!m_seen.skip_reason.empty() && !m_seen.interrupted) {
      m_out.verdict = Verdict::skipped;
      m_out.skip_reason = m_seen.skip_reason;
      return std::move(m_out);
    }
    judge_setup();
    if (m_seen.boot) {
      judge_boot(*m_seen.boot);
      judge_steps();
      judge_after_exit();
    }
    if (m_seen.interrupted && m_out.exit_code != ExitCode::interrupted)
      error(ExitCode::interrupted, "interrupted");
    // An artifact that could not be written (a full disk) is the environment's failure, and
    // whatever it made the judges conclude is not the guest's.
    if (!m_artifact_error.empty() && m_out.exit_code != ExitCode::interrupted)
      error(ExitCode::environment, m_artifact_error);
    if (!m_error)
      m_out.verdict = m_step_failed || !m_out.failures.empty() ? Verdict::failed : Verdict::passed;
    if (m_out.verdict == Verdict::failed)
      m_out.exit_code = ExitCode::failed;
    if (m_seen.steps.size() < m_scenario.steps.size())
      m_out.steps_not_run = steps_not_run();
    return std::move(m_out);
  }

private:
  void fail(std::string message) { m_out.failures.push_back(std::move(message)); }

  // Why the steps after the observed ones never ran, from what ended the run first.
  std::string steps_not_run() const {
    if (m_seen.setup_error)
      return m_seen.setup_error->code == ExitCode::interrupted
                 ? "interrupted"
                 : "labctl could not run the scenario";
    if (!m_seen.prepare_failure.empty())
      return "the guest could not be prepared (a module did not build)";
    if (m_scenario.warnings_are_errors && !m_seen.warned_modules.empty())
      return "a module built with warnings (\"warnings\": \"error\")";
    if (!m_seen.boot)
      return m_seen.interrupted ? "interrupted" : "nothing booted";
    if (m_seen.boot->outcome != WaitOutcome::ok)
      return "the boot failed";
    for (const auto& m : m_seen.boot->modules)
      if (m.failed())
        return fmt::format("module {} did not load", m.name);
    if (!m_seen.gdb_error.empty())
      return "gdb could not attach";
    if (!m_seen.steps.empty()) {
      size_t last = m_seen.steps.size();
      if (m_seen.steps.back().result.outcome == WaitOutcome::interrupted)
        return fmt::format("interrupted during step {}", last);
      return fmt::format("step {} failed", last);
    }
    return m_seen.interrupted ? "interrupted" : "the run stopped before the steps";
  }

  void error(ExitCode code, std::string message) {
    m_error = true;
    m_out.verdict = Verdict::error;
    m_out.exit_code = code;
    m_out.failures.push_back(std::move(message));
  }

  void judge_setup() {
    m_artifact_error = m_seen.artifact_error;
    if (m_seen.setup_error)
      error(m_seen.setup_error->code, m_seen.setup_error->message);
    if (!m_seen.prepare_failure.empty())
      fail(m_seen.prepare_failure);
    if (m_scenario.warnings_are_errors)
      // The warnings themselves are in build_warnings, shown under the summary line.
      for (const auto& folder : m_seen.warned_modules)
        fail(fmt::format("module {} built with warnings (the scenario says \"warnings\": "
                         "\"error\")",
                         folder));
  }

  void judge_boot(const BootObservation& boot) {
    if (boot.outcome != WaitOutcome::ok) {
      boot_failed(boot);
      return;
    }
    for (const auto& m : boot.modules) {
      if (!m.failed()) // a soft dependency that failed is modprobe's "go on"
        continue;
      std::string related;
      for (const auto& line : boot.console)
        if (names_module(line, m.name))
          related += "  | " + name_errnos(line) + "\n";
      fail(fmt::format("module {} failed to load: {}\n{}", m.name, name_errnos(m.error_text),
                       related));
    }
    if (!m_seen.gdb_error.empty())
      fail(m_seen.gdb_error);
  }

  void boot_failed(const BootObservation& boot) {
    auto console = join_lines(boot.console, 25);
    if (boot.panic) {
      fail(fmt::format("kernel panic during boot: {}\n{}", boot.panic->title, boot.panic->report));
      return;
    }
    switch (boot.outcome) {
    case WaitOutcome::timeout:
      // Say which timeout ended the boot: the scenario's own can be the shorter one.
      fail(
          fmt::format("the kernel never reached init (no READY within {}); last console lines:\n{}",
                      boot.ended_by_scenario_timeout
                          ? fmt::format("the scenario's timeout of {} s, key 'timeout' in {}",
                                        m_scenario.timeout, m_scenario.file.string())
                          : fmt::format("the profile's boot_timeout of {} s, {}", boot.boot_timeout,
                                        boot.profile_file.empty() ? std::string("built-in default")
                                                                  : boot.profile_file),
                      console));
      break;
    case WaitOutcome::qemu_exited:
      // QEMU that fails before the guest printed a thing could not run it at all (a kernel
      // it cannot load, a file it cannot open): the environment, not the scenario.
      if (boot.console_bytes == 0 && !boot.qemu_status.success()) {
        error(ExitCode::environment,
              fmt::format("QEMU could not start the guest ({}): {}", boot.qemu_status.describe(),
                          boot.qemu_stderr.empty() ? "no output on stderr" : boot.qemu_stderr));
        break;
      }
      fail(fmt::format("{} during boot; last console lines:\n{}{}", boot.qemu_exit, console,
                       boot.qemu_stderr.empty() ? "" : "QEMU stderr:\n" + boot.qemu_stderr));
      break;
    case WaitOutcome::interrupted:
      error(ExitCode::interrupted, "interrupted during boot");
      break;
    case WaitOutcome::boot_report_damaged:
      fail(fmt::format("the boot report from init was damaged ({}); last console lines:\n{}",
                       boot.error, console));
      break;
    default:
      fail("boot failed: " + describe(boot.outcome));
    }
  }

  void judge_steps() {
    for (size_t i = 0; i < m_seen.steps.size() && i < m_scenario.steps.size(); ++i) {
      const StepObservation& seen = m_seen.steps[i];
      const Step& step = m_scenario.steps[i];
      const StepResult& result = seen.result;
      std::vector<std::string> failures;
      if (step.ends_guest && result.outcome != WaitOutcome::interrupted) {
        failures = judge_guest_end(step, seen);
        m_step_failed = m_step_failed || !failures.empty();
        m_out.step_failures.push_back(std::move(failures));
        continue;
      }
      switch (result.outcome) {
      case WaitOutcome::ok:
        failures = judge_step(step, result);
        break;
      case WaitOutcome::timeout:
        failures.push_back(
            fmt::format("{}: no answer from the guest ({}); last console lines:\n{}",
                        seen.scenario_deadline_passed
                            ? fmt::format("scenario timed out after {} s", m_scenario.timeout)
                            : fmt::format("timed out after {} s", step.timeout),
                        "the guest sent nothing, not even news of its agent dying: it may be hung",
                        join_lines(seen.console, 15)));
        break;
      case WaitOutcome::interrupted:
        error(ExitCode::interrupted, fmt::format("interrupted during step {} ({}:{})", i + 1,
                                                 m_scenario.file.filename().string(), step.line));
        break;
      default:
        failures.push_back(
            fmt::format("{} while the step ran; last console lines:\n{}",
                        result.outcome == WaitOutcome::qemu_exited ? seen.qemu_exit : result.error,
                        join_lines(seen.console, 15)));
      }
      m_step_failed = m_step_failed || !failures.empty();
      m_out.step_failures.push_back(std::move(failures));
    }
  }

  void judge_after_exit() {
    std::vector<ObservedFault> observed;
    for (const auto& f : m_seen.faults)
      if (!is_declared_panic(f))
        observed.push_back({f.fault.kind, f.fault.title});
    // The report lists each fault with its phase and trace; these say why it fails.
    for (auto& msg : judge_faults(m_scenario.expect, observed))
      fail(std::move(msg));
    if (m_seen.faults_dropped > 0)
      fail(fmt::format("more kernel fault reports followed the first {}; labctl did not keep "
                       "them (see console.log)",
                       m_seen.max_faults));
    // The console's own limits: console.log stores at most console_log_limit bytes.
    if (m_seen.console_bytes > m_seen.console_log_limit)
      fail(fmt::format("the console printed {} MiB, more than the {} MiB labctl keeps (a printk "
                       "flood?); console.log holds the first {} MiB",
                       m_seen.console_bytes >> 20, m_seen.console_log_limit >> 20,
                       m_seen.console_log_limit >> 20));

    // Expectations on the whole run only make sense when the guest got that far.
    bool complete = m_seen.steps.size() == m_scenario.steps.size() && !m_step_failed && !m_error;
    if (!complete)
      return;
    for (auto& msg : judge_kernel_log(m_scenario.expect, m_seen.kernel_log, m_seen.kernel_log_lost))
      fail(std::move(msg));
    if (!m_scenario.expect.trace.empty()) {
      if (!m_seen.trace_log)
        fail("trace: " + m_seen.trace_log_error);
      else
        for (auto& msg :
             judge_trace(m_scenario.expect.trace, *m_seen.trace_log, m_seen.debugcon_bytes))
          fail(std::move(msg));
    }
    if (m_scenario.expect.debugcon)
      judge_debugcon(*m_scenario.expect.debugcon, m_seen.debugcon);
  }

  // The panic of a step declared to end the guest with one ("ends_guest": "panic") is
  // expected there, whether or not expect.faults lists "panic" (if it does, it counts).
  bool is_declared_panic(const AttributedFault& f) const {
    const RunPhase& at = f.phase;
    return f.fault.kind == "panic" && !fault_expected(m_scenario.expect, "panic") &&
           at.name == "step" && at.step >= 1 &&
           static_cast<size_t>(at.step) <= m_scenario.steps.size() &&
           m_scenario.steps[static_cast<size_t>(at.step) - 1].ends_guest == GuestEnd::panic;
  }

  void judge_debugcon(const ExpectedDebugcon& expected, const DebugconObservation& seen) {
    // QEMU writes debugcon.txt and says nothing when the disk fills: a short file is then
    // the disk's doing, not a difference in what the guest wrote.
    if (!m_artifact_error.empty() || seen.disk_full) {
      if (m_artifact_error.empty())
        m_artifact_error = fmt::format(
            "debugcon not compared: {}: the filesystem is full, so QEMU may have written only "
            "part of it; not compared with {}",
            seen.path, expected.label);
      return;
    }
    if (seen.size && *seen.size > k_max_debugcon_compare) {
      fail(fmt::format("debugcon.txt holds {} MiB, more than the {} MiB labctl compares with "
                       "{}",
                       *seen.size >> 20, k_max_debugcon_compare >> 20, expected.label));
      return;
    }
    auto cmp = compare_debugcon(expected.bytes, seen.text, expected.label, seen.path);
    if (!cmp.equal) {
      m_out.debugcon_diff = cmp.diff;
      fail(fmt::format("debugcon output differs from {} (first difference at byte {})",
                       expected.label, cmp.first_difference));
    }
  }

  const Scenario& m_scenario;
  const Observations& m_seen;
  Judgement m_out;
  bool m_error = false;
  bool m_step_failed = false;
  std::string m_artifact_error;
};

} // namespace

Judgement judge(const Scenario& scenario, const Observations& observations) {
  return ScenarioJudge(scenario, observations).run();
}

} // namespace labctl
