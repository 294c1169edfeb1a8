#include "run/scenario_runner.h"

#include "judge/debugcon_diff.h"
#include "judge/judge.h"
#include "judge/trace_check.h"
#include "run/gdb_attach.h"
#include "run/guest_boot.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/shell_quote.h"
#include "vm/guest_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace labctl {

namespace {

using Clock = std::chrono::steady_clock;

// Host-side allowance on top of a step's own timeout: moving its output over the serial
// line and a slow emulated guest.
constexpr auto k_step_grace = std::chrono::seconds(10);
// With gdb the user may hold the guest at a breakpoint for as long as they like.
constexpr auto k_gdb_no_deadline = std::chrono::hours(24 * 365);

std::string join_lines(const std::deque<std::string>& lines, size_t last) {
  std::string out;
  size_t start = lines.size() > last ? lines.size() - last : 0;
  for (size_t i = start; i < lines.size(); ++i)
    out += "  | " + lines[i] + "\n";
  return out;
}

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

// The most debugcon output labctl reads back to compare; QEMU itself writes the file.
constexpr uintmax_t k_max_debugcon_compare = uintmax_t{64} << 20;

// Why QEMU ended, in the guest's terms where the console says: QEMU runs with -no-reboot,
// so a guest that reboots (or powers off) ends QEMU with exit code 0.
std::string qemu_exit_reason(QemuVm& vm) {
  std::string status = vm.exit_status().value_or(ExitStatus{}).describe();
  const auto& lines = vm.recent_console();
  for (size_t i = lines.size(), seen = 0; i > 0 && seen < 10; --i, ++seen) {
    if (lines[i - 1].find("reboot: Restarting system") != std::string::npos)
      return fmt::format("the guest rebooted, which ends QEMU under -no-reboot ({})", status);
    if (lines[i - 1].find("reboot: Power down") != std::string::npos)
      return fmt::format("the guest powered off ({})", status);
  }
  return fmt::format("QEMU exited ({})", status);
}

class Runner {
public:
  Runner(const Scenario& scenario, const LabSetup& lab, const ScenarioRunOptions& options)
      : m_scenario(scenario), m_lab(lab), m_options(options) {
    m_report.name = scenario.name;
    m_report.file = scenario.file;
    m_report.artifacts = options.artifacts;
    m_report.accel = lab.accel.accel;
    m_report.accel_reason = lab.accel.reason;
    m_report.kernel = lab.kernel.version;
    m_report.kernel_image = lab.kernel.image;
    m_report.verdict.clear(); // decided at the end
  }

  ScenarioReport run() {
    auto started = Clock::now();
    m_deadline =
        started + (m_options.gdb ? k_gdb_no_deadline : std::chrono::seconds(m_scenario.timeout));
    // A folder this run created itself: nothing stale (an old faults.txt beside a pass) and
    // no planted symlink for QEMU to follow when it opens debugcon.txt or trace.log.
    if (auto fresh = make_fresh_directory(m_options.artifacts); !fresh) {
      error(ExitCode::environment, "artifacts: " + fresh.error().message);
      m_report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
      return m_report;
    }
    try {
      execute();
    } catch (const FatalError& e) {
      error(e.error().code, e.error().message);
    } catch (const util::FailureError& e) {
      error(Error(e.failure()).code, e.failure().message);
    }
    if (interrupted() && m_report.exit_code != to_int(ExitCode::interrupted))
      error(ExitCode::interrupted, "interrupted");
    // An artifact that could not be written (a full disk) is the environment's failure, and
    // whatever it made the judges conclude is not the guest's.
    if (!m_artifact_error.empty() && m_report.exit_code != to_int(ExitCode::interrupted))
      error(ExitCode::environment, m_artifact_error);
    if (m_report.verdict.empty())
      m_report.verdict = m_failed || !m_report.failures.empty() ? "failed" : "passed";
    if (m_report.verdict == "failed")
      m_report.exit_code = to_int(ExitCode::failed);
    m_report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    write_artifacts();
    return m_report;
  }

private:
  void progress(const std::string& what) {
    if (m_options.progress)
      m_options.progress(what);
  }

  void fail(std::string message) { m_report.failures.push_back(std::move(message)); }

  // Write one artifact into the fresh folder (never through a link); the first failure is
  // kept and makes the scenario an environment error.
  void keep(const std::string& file, std::string_view data) {
    if (auto s = write_new_file(m_options.artifacts / file, data); !s)
      artifact_failed("artifact not written: " + s.error().message);
  }
  void artifact_failed(const std::string& message) {
    if (m_artifact_error.empty())
      m_artifact_error = message;
  }

  void error(ExitCode code, std::string message) {
    m_report.verdict = "error";
    m_report.exit_code = to_int(code);
    m_report.failures.push_back(std::move(message));
  }

  void execute() {
    GuestRequest request;
    request.modules = m_scenario.modules;
    request.files = m_scenario.files;
    request.artifacts = m_options.artifacts;
    request.trace = trace_patterns(m_scenario.trace, m_options.trace);
    request.gdb = m_options.gdb;
    auto guest = prepare_guest(m_lab, request, m_options.progress);
    if (!guest) {
      if (guest.error().code != ExitCode::failed)
        throw FatalError(guest.error());
      fail(guest.error().message);
      return;
    }
    for (const auto& [folder, text] : guest->warnings)
      m_report.build_warnings.emplace_back(folder.string(), text);
    if (m_scenario.warnings_are_errors && !guest->warnings.empty()) {
      // The warnings themselves are in build_warnings, shown under the summary line.
      for (const auto& [folder, text] : guest->warnings)
        fail(fmt::format("module {} built with warnings (the scenario says \"warnings\": "
                         "\"error\")",
                         folder.string()));
      return;
    }
    // A signal while the guest was prepared: nothing boots.
    if (interrupted()) {
      error(ExitCode::interrupted, "interrupted before boot");
      return;
    }
    boot_and_drive(*guest);
    judge_after_exit();
  }

  void boot_and_drive(const PreparedGuest& guest) {
    progress("booting");
    auto session = GuestSession::start(guest.config);
    if (!session)
      throw FatalError(session.error());
    m_session = std::move(*session);
    keep("qemu.cmdline", shell_join(m_session->vm().argv()) + "\n");

    auto boot_deadline =
        std::min(m_deadline, Clock::now() + std::chrono::seconds(m_lab.profile.boot_timeout));
    m_boot_ended_by_scenario_timeout = boot_deadline == m_deadline;
    auto boot = m_session->wait_ready(boot_deadline);
    if (boot.outcome != GuestSession::Outcome::ok) {
      boot_failed(boot);
      return;
    }
    // What the guest says it runs (uname -r) outranks the release read on the host.
    if (!boot.kernel_release.empty())
      m_report.kernel = boot.kernel_release;
    bool modules_ok = true;
    for (const auto& m : boot.modules) {
      if (m.ok)
        continue;
      modules_ok = false;
      std::string related;
      for (const auto& line : m_session->vm().recent_console())
        if (line.find(m.name) != std::string::npos)
          related += "  | " + line + "\n";
      fail(fmt::format("module {} failed to load: {}\n{}", m.name, m.error_text, related));
    }
    if (auto gdb = modules_ok && m_options.gdb
                       ? attach_gdb(*m_session, guest, m_options.artifacts, m_options.gdb_wait)
                       : ok_status();
        !gdb) {
      fail(gdb.error().message);
      modules_ok = false;
    }
    if (modules_ok)
      run_steps();
    m_session->mark("steps_done");
    progress("shutting down");
    m_session->set_phase({.name = "shutdown"});
    // An unresponsive guest gets no further requests: teardown starts at once.
    if (!interrupted() && m_guest_responsive && m_session->vm().exit_status() == std::nullopt)
      m_session->finish(
          std::min(m_deadline + std::chrono::seconds(30), Clock::now() + std::chrono::seconds(30)));
  }

  void boot_failed(const GuestSession::Boot& boot) {
    using O = GuestSession::Outcome;
    auto console = join_lines(m_session->vm().recent_console(), 25);
    for (const auto& f : m_session->faults())
      if (f.fault.kind == "panic") {
        fail(fmt::format("kernel panic during boot: {}\n{}", f.fault.title, f.fault.report));
        return;
      }
    switch (boot.outcome) {
    case O::timeout:
      // Say which timeout ended the boot: the scenario's own can be the shorter one.
      fail(fmt::format(
          "the kernel never reached init (no READY within {}); last console lines:\n{}",
          m_boot_ended_by_scenario_timeout
              ? fmt::format("the scenario's timeout of {} s, key 'timeout' in {}",
                            m_scenario.timeout, m_scenario.file.string())
              : fmt::format("the profile's boot_timeout of {} s, {}", m_lab.profile.boot_timeout,
                            m_lab.profile.file.empty() ? std::string("built-in default")
                                                       : m_lab.profile.file.string()),
          console));
      break;
    case O::qemu_exited: {
      QemuVm& vm = m_session->vm();
      auto status = vm.exit_status().value_or(ExitStatus{});
      // QEMU that fails before the guest printed a thing could not run it at all (a kernel
      // it cannot load, a file it cannot open): the environment, not the scenario.
      if (vm.console_bytes() == 0 && !status.success()) {
        error(ExitCode::environment,
              fmt::format("QEMU could not start the guest ({}): {}", status.describe(),
                          vm.qemu_stderr().empty() ? "no output on stderr" : vm.qemu_stderr()));
        break;
      }
      fail(fmt::format("{} during boot; last console lines:\n{}{}", qemu_exit_reason(vm), console,
                       vm.qemu_stderr().empty() ? "" : "QEMU stderr:\n" + vm.qemu_stderr()));
      break;
    }
    case O::interrupted:
      error(ExitCode::interrupted, "interrupted during boot");
      break;
    case O::boot_report_damaged:
      fail(fmt::format("the boot report from init was damaged ({}); last console lines:\n{}",
                       boot.error, console));
      break;
    default:
      fail("boot failed: " + GuestSession::describe(boot.outcome));
    }
  }

  void run_steps() {
    size_t index = 0;
    for (const auto& step : m_scenario.steps) {
      ++index;
      std::string label =
          fmt::format("step {} ({}:{})", index, m_scenario.file.filename().string(), step.line);
      progress(fmt::format("step {}/{}: {}", index, m_scenario.steps.size(), first_line(step.run)));
      m_session->set_phase({.name = "step", .step = static_cast<int>(index)});
      size_t faults_before = m_session->faults().size();
      auto deadline = m_options.gdb ? m_deadline
                                    : std::min(m_deadline, Clock::now() + k_step_grace +
                                                               std::chrono::seconds(step.timeout));
      auto result = m_session->run(step.run, step.timeout, deadline, m_deadline);

      StepReport report;
      report.command = step.run;
      report.line = step.line;
      report.seconds = result.seconds;
      report.exit_code = result.output.exit_code;
      report.out = result.output.out;
      report.err = result.output.err;
      report.timed_out = result.output.guest_timed_out;

      using O = GuestSession::Outcome;
      bool stop = false;
      m_guest_responsive = result.outcome == O::ok;
      if (result.outcome == O::ok) {
        StepRun run{result.output.exit_code, result.output.out, result.output.err,
                    result.output.guest_timed_out, result.seconds};
        report.failures = judge_step(step, run);
      } else if (result.outcome == O::timeout) {
        report.timed_out = true;
        bool scenario_timeout = Clock::now() >= m_deadline;
        report.failures.push_back(fmt::format(
            "{}: no answer from the guest ({}); last console lines:\n{}",
            scenario_timeout ? fmt::format("scenario timed out after {} s", m_scenario.timeout)
                             : fmt::format("timed out after {} s", step.timeout),
            "the guest sent nothing, not even news of its agent dying: it may be hung",
            join_lines(m_session->vm().recent_console(), 15)));
        stop = true;
      } else if (result.outcome == O::interrupted) {
        error(ExitCode::interrupted, "interrupted during " + label);
        stop = true;
      } else {
        std::string why =
            result.outcome == O::qemu_exited ? qemu_exit_reason(m_session->vm()) : result.error;
        report.failures.push_back(fmt::format("{} while the step ran; last console lines:\n{}", why,
                                              join_lines(m_session->vm().recent_console(), 15)));
        stop = true;
      }
      if (m_session->faults().size() > faults_before && !report.failures.empty())
        stop = true;
      // The report explains failed steps itself; they only decide the verdict here.
      bool step_failed = !report.failures.empty();
      m_failed = m_failed || step_failed;
      m_report.steps.push_back(std::move(report));
      if (stop || step_failed)
        break;
    }
  }

  void judge_after_exit() {
    if (!m_session)
      return;
    m_session->shutdown();
    m_report.timeline = m_session->timeline();
    progress("judging");

    // Faults, attributed to the phase they happened in.
    std::vector<ObservedFault> observed;
    std::string fault_text;
    for (const auto& f : m_session->faults()) {
      observed.push_back({f.fault.kind, f.fault.title});
      m_report.faults.push_back(fault_report(f, m_scenario));
      std::string where = f.phase.name;
      if (const FaultReport& r = m_report.faults.back(); r.step_index > 0)
        where = fmt::format("step {} ({}:{})", r.step_index, m_scenario.file.filename().string(),
                            m_scenario.steps[static_cast<size_t>(r.step_index) - 1].line);
      fault_text += fmt::format("=== {} in {}\n{}\n", f.fault.title, where, f.fault.report);
    }
    if (!fault_text.empty())
      keep("faults.txt", fault_text);
    // The report lists each fault with its phase and trace; these say why it fails.
    for (auto& msg : judge_faults(m_scenario.expect, observed))
      fail(msg);
    if (m_session->faults_dropped() > 0)
      fail(fmt::format("more kernel fault reports followed the first {}; labctl did not keep "
                       "them (see console.log)",
                       GuestSession::k_max_faults));
    judge_console(m_session->vm());

    const std::string& kernel_log = m_session->kernel_log();
    keep("kernel.log", kernel_log);
    // Expectations on the whole run only make sense when the guest got that far.
    bool complete =
        m_report.steps.size() == m_scenario.steps.size() && !m_failed && m_report.verdict.empty();
    if (!complete)
      return;
    for (auto& msg : judge_kernel_log(m_scenario.expect, kernel_log))
      fail(msg);
    for (auto& msg : judge_trace_file(m_scenario.expect.trace, m_options.artifacts))
      fail(msg);
    if (m_scenario.expect.debugcon) {
      // QEMU writes debugcon.txt and says nothing when the disk fills: a short file is then
      // the disk's doing, not a difference in what the guest wrote.
      if (!m_artifact_error.empty() || filesystem_full(m_options.artifacts).value_or(false)) {
        artifact_failed(fmt::format(
            "debugcon not compared: {}: the filesystem is full, so QEMU may have written only "
            "part of it; not compared with {}",
            (m_options.artifacts / "debugcon.txt").string(), m_scenario.expect.debugcon->label));
        return;
      }
      std::error_code ec;
      auto size = fs::file_size(m_options.artifacts / "debugcon.txt", ec);
      if (!ec && size > k_max_debugcon_compare) {
        fail(fmt::format("debugcon.txt holds {} MiB, more than the {} MiB labctl compares with "
                         "{}",
                         size >> 20, k_max_debugcon_compare >> 20,
                         m_scenario.expect.debugcon->label));
        return;
      }
      auto actual = read_file(m_options.artifacts / "debugcon.txt");
      std::string got = actual ? *actual : "";
      auto cmp = compare_debugcon(m_scenario.expect.debugcon->bytes, got,
                                  m_scenario.expect.debugcon->label,
                                  (m_options.artifacts / "debugcon.txt").string());
      if (!cmp.equal) {
        m_report.debugcon_diff = cmp.diff;
        fail(fmt::format("debugcon output differs from {} (first difference at byte {})",
                         m_scenario.expect.debugcon->label, cmp.first_difference));
      }
    }
  }

  // The console's own limits: console.log stores at most QemuVm::k_max_console_log bytes.
  void judge_console(QemuVm& vm) {
    if (!vm.console_log_error().empty())
      artifact_failed(fmt::format("artifact not written: cannot write {}: {}; the console "
                                  "record is incomplete",
                                  (m_options.artifacts / "console.log").string(),
                                  vm.console_log_error()));
    if (vm.console_bytes() > QemuVm::k_max_console_log)
      fail(fmt::format("the console printed {} MiB, more than the {} MiB labctl keeps (a printk "
                       "flood?); console.log holds the first {} MiB",
                       vm.console_bytes() >> 20, QemuVm::k_max_console_log >> 20,
                       QemuVm::k_max_console_log >> 20));
  }

  void write_artifacts() {
    auto written = write_new_file(m_options.artifacts / "result.json", json_report({m_report}));
    if (!written && m_report.exit_code != to_int(ExitCode::interrupted)) {
      // The scenario's own record is missing: say so rather than pass silently.
      error(ExitCode::environment, "artifact not written: " + written.error().message);
    }
  }

  const Scenario& m_scenario;
  const LabSetup& m_lab;
  const ScenarioRunOptions& m_options;
  ScenarioReport m_report;
  Clock::time_point m_deadline;
  std::unique_ptr<GuestSession> m_session;
  bool m_failed = false;
  bool m_guest_responsive = true;
  bool m_boot_ended_by_scenario_timeout = false; // its deadline came before boot_timeout
  std::string m_artifact_error; // the first artifact that could not be written, and why
};

} // namespace

FaultReport fault_report(const AttributedFault& fault, const Scenario& scenario) {
  FaultReport r{.kind = fault.fault.kind,
                .title = fault.fault.title,
                .report = fault.fault.report,
                .phase = fault.phase.name};
  if (fault.phase.name == "step" && fault.phase.step >= 1 &&
      static_cast<size_t>(fault.phase.step) <= scenario.steps.size()) {
    r.step_index = fault.phase.step;
    r.step = scenario.steps[static_cast<size_t>(fault.phase.step) - 1].run;
  }
  return r;
}

ScenarioReport run_scenario(const Scenario& scenario, const LabSetup& lab,
                            const ScenarioRunOptions& options) {
  return Runner(scenario, lab, options).run();
}

} // namespace labctl
