#include "run/scenario_runner.h"

#include "build/dkms_conf.h"
#include "build/module_build.h"
#include "build/symbolizer.h"
#include "image/module_deps.h"
#include "judge/judge.h"
#include "judge/trace_check.h"
#include "run/failure_shell.h"
#include "run/gdb_attach.h"
#include "run/guest_boot.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/shell_quote.h"
#include "vm/guest_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

namespace labctl {

namespace {

using Clock = std::chrono::steady_clock;

// Host-side allowance on top of a step's own timeout: moving its output over the serial
// line and a slow emulated guest.
constexpr auto k_step_grace = std::chrono::seconds(10);
// With gdb the user may hold the guest at a breakpoint for as long as they like.
constexpr auto k_gdb_no_deadline = std::chrono::hours(24 * 365);

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

// A reset or power-off the kernel announced in the last console lines: the kernel's own
// "reboot: Restarting system" / "reboot: Power down", or sysrq's "sysrq: Resetting" (an
// emergency restart, as after a panic, prints nothing).
std::optional<GuestEnd> console_end(const std::deque<std::string>& lines) {
  for (size_t i = lines.size(), seen = 0; i > 0 && seen < 10; --i, ++seen) {
    const std::string& line = lines[i - 1];
    if (line.find("reboot: Restarting system") != std::string::npos ||
        line.find("sysrq: Resetting") != std::string::npos)
      return GuestEnd::reset;
    if (line.find("reboot: Power down") != std::string::npos)
      return GuestEnd::poweroff;
  }
  return std::nullopt;
}

// Why QEMU ended, in the guest's terms where the console says: QEMU runs with -no-reboot,
// so a guest that reboots (or powers off) ends QEMU with exit code 0.
std::string qemu_exit_reason(GuestLink& vm) {
  std::string status = vm.exit_status().value_or(ExitStatus{}).describe();
  auto end = console_end(vm.recent_console());
  if (end == GuestEnd::reset)
    return fmt::format("the guest rebooted, which ends QEMU under -no-reboot ({})", status);
  if (end == GuestEnd::poweroff)
    return fmt::format("the guest powered off ({})", status);
  return fmt::format("QEMU exited ({})", status);
}

// How the guest ended itself while step `step` ran, once QEMU has exited: a panic of that
// step (panic=-1 resets at once, and -no-reboot turns the reset into QEMU's exit), else what
// the console announced; nothing when QEMU did not exit with status 0.
std::optional<GuestEnd> guest_end_in_step(GuestSession& session, int step) {
  if (!session.vm().exit_status().value_or(ExitStatus{}).success())
    return std::nullopt;
  for (const auto& f : session.faults())
    if (f.fault.kind == "panic" && f.phase == RunPhase{.name = "step", .step = step})
      return GuestEnd::panic;
  return console_end(session.vm().recent_console());
}

class Runner {
public:
  Runner(const Scenario& scenario, const LabSetup& lab, const ScenarioRunOptions& options)
      : m_scenario(scenario), m_lab(lab), m_options(options),
        m_artifacts(options.artifacts, ArtifactFolder::Kind::fresh) {
    m_report.name = scenario.name;
    m_report.file = scenario.file;
    m_report.artifacts = options.artifacts;
    m_report.accel = lab.accel.accel;
    m_report.accel_reason = lab.accel.reason;
    m_report.kernel = lab.kernel.version;
    m_report.kernel_image = lab.kernel.image;
  }

  ScenarioReport run() {
    auto started = Clock::now();
    m_deadline =
        started + (m_options.gdb ? k_gdb_no_deadline : std::chrono::seconds(m_scenario.timeout));
    if (!m_options.skip_reason.empty()) {
      m_report.artifacts.clear();
      m_seen.skip_reason = m_options.skip_reason;
      m_seen.interrupted = interrupted();
      report(judge(m_scenario, m_seen));
      return m_report;
    }
    // A folder this run created itself: nothing stale (an old faults.txt beside a pass) and
    // no planted symlink for QEMU to follow when it opens debugcon.txt or trace.log.
    if (auto fresh = m_artifacts.create(); !fresh) {
      m_seen.setup_error = RunError{ExitCode::environment, "artifacts: " + fresh.error().message};
      report(judge(m_scenario, m_seen));
      m_report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
      return m_report;
    }
    try {
      execute();
    } catch (const FatalError& e) {
      m_seen.setup_error = RunError{e.error().code, e.error().message};
    } catch (const util::FailureError& e) {
      m_seen.setup_error = RunError{Error(e.failure()).code, e.failure().message};
    }
    m_seen.interrupted = interrupted();
    report(judge(m_scenario, m_seen));
    m_report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    write_artifacts();
    return m_report;
  }

private:
  void progress(const std::string& what) {
    if (m_options.progress)
      m_options.progress(what);
  }

  // Write one artifact into the fresh folder (never through a link); the first failure is
  // kept and makes the scenario an environment error.
  void keep(Artifact file, std::string_view data) {
    if (auto s = m_artifacts.write(file, data); !s)
      artifact_failed("artifact not written: " + s.error().message);
  }
  void artifact_failed(const std::string& message) {
    if (m_seen.artifact_error.empty())
      m_seen.artifact_error = message;
  }

  void execute() {
    if (!read_dkms_packages())
      return;
    GuestRequest request;
    request.modules = m_scenario.modules;
    request.files = m_scenario.files;
    request.artifacts = m_artifacts;
    request.trace = trace_patterns(m_scenario.trace, m_options.trace);
    request.gdb = m_options.gdb;
    auto guest = prepare_guest(m_lab, request, m_options.progress);
    if (!guest) {
      if (guest.error().code != ExitCode::failed)
        throw FatalError(guest.error());
      m_seen.prepare_failure = guest.error().message;
      return;
    }
    m_modules = guest->modules;
    m_module_folders = guest->module_folders;
    for (const auto& [folder, text] : guest->warnings) {
      m_report.build_warnings.emplace_back(folder.string(), text);
      m_seen.warned_modules.push_back(folder.string());
    }
    if (m_scenario.warnings_are_errors && !guest->warnings.empty())
      return;
    // A signal while the guest was prepared: nothing boots.
    if (interrupted()) {
      m_seen.setup_error = RunError{ExitCode::interrupted, "interrupted before boot"};
      return;
    }
    boot_and_drive(*guest);
    collect_after_exit();
  }

  // The DKMS folders' packages go into the report; a kernel one of them rules out
  // (BUILD_EXCLUSIVE_*) makes the scenario skipped, with dkms.conf's reason, before any build.
  bool read_dkms_packages() {
    for (const auto& module : m_scenario.modules) {
      std::error_code ec;
      if (!fs::exists(module.dir / k_dkms_conf, ec))
        continue;
      auto recipe = read_dkms_recipe(module.dir, m_lab.kernel);
      if (!recipe) {
        if (recipe.error().code != ExitCode::failed)
          throw FatalError(recipe.error());
        m_seen.prepare_failure = recipe.error().message;
        return false;
      }
      m_report.dkms_packages.push_back(
          {module.dir.string(), recipe->package_name, recipe->package_version});
      if (recipe->excluded) {
        m_seen.skip_reason =
            fmt::format("excluded: {} (DKMS package {} {} in {})", *recipe->excluded,
                        recipe->package_name, recipe->package_version, module.dir.string());
        return false;
      }
    }
    return true;
  }

  void boot_and_drive(const PreparedGuest& guest) {
    progress("booting");
    auto session = GuestSession::start(guest.config);
    if (!session)
      throw FatalError(session.error());
    m_session = std::move(*session);
    keep(Artifact::qemu_cmdline, shell_join(m_session->vm().argv()) + "\n");

    auto boot_deadline =
        std::min(m_deadline, Clock::now() + std::chrono::seconds(m_lab.profile.boot_timeout));
    auto boot = m_session->wait_ready(boot_deadline);
    BootObservation& seen = m_seen.boot.emplace(observe_boot(boot));
    seen.ended_by_scenario_timeout = boot_deadline == m_deadline;
    if (boot.outcome != GuestSession::Outcome::ok) {
      shell_on_failure();
      return;
    }
    // What the guest says it runs (uname -r) outranks the release read on the host.
    if (!boot.kernel_release.empty())
      m_report.kernel = boot.kernel_release;
    bool modules_ok = std::none_of(boot.modules.begin(), boot.modules.end(),
                                   [](const ModuleLoad& m) { return m.failed(); });
    if (modules_ok && m_options.gdb) {
      if (auto gdb = attach_gdb(*m_session, guest, m_options.gdb_wait); !gdb) {
        m_seen.gdb_error = gdb.error().message;
        modules_ok = false;
      }
    }
    if (modules_ok)
      run_steps();
    shell_on_failure();
    m_session->mark("steps_done");
    progress("shutting down");
    m_session->set_phase({.name = "shutdown"});
    // An unresponsive guest gets no further requests: teardown starts at once.
    if (!interrupted() && m_guest_responsive && m_session->vm().exit_status() == std::nullopt)
      m_session->finish(
          std::min(m_deadline + std::chrono::seconds(30), Clock::now() + std::chrono::seconds(30)));
  }

  // --shell-on-failure: before teardown, the user's shell in the guest as the failure left
  // it. What happens there is recorded as phase "shell"; its time does not count against the
  // scenario's timeout.
  void shell_on_failure() {
    if (!m_options.shell_on_failure || interrupted())
      return;
    auto why = failure_stop_reason(m_scenario, m_seen, m_session->faults());
    if (!why)
      return;
    bool booted = m_seen.boot && m_seen.boot->outcome == GuestSession::Outcome::ok;
    auto paused = Clock::now();
    m_session->set_phase({.name = "shell"});
    shell_in_failed_guest(*m_session, {.scenario = m_scenario.name,
                                       .why = *why,
                                       .responsive = m_guest_responsive && booted,
                                       .artifacts = m_artifacts,
                                       .gdb = m_options.gdb});
    m_deadline += Clock::now() - paused;
  }

  BootObservation observe_boot(const GuestSession::Boot& boot) {
    GuestLink& vm = m_session->vm();
    BootObservation seen{.outcome = boot.outcome,
                         .error = boot.error,
                         .modules = boot.modules,
                         .boot_timeout = m_lab.profile.boot_timeout,
                         .profile_file = m_lab.profile.file.string(),
                         .console = vm.recent_console(),
                         .console_bytes = vm.console_bytes()};
    for (const auto& f : m_session->faults())
      if (f.fault.kind == "panic") {
        seen.panic = f.fault;
        break;
      }
    if (boot.outcome == GuestSession::Outcome::qemu_exited) {
      seen.qemu_status = vm.exit_status().value_or(ExitStatus{});
      seen.qemu_stderr = vm.qemu_stderr();
      seen.qemu_exit = qemu_exit_reason(vm);
    }
    return seen;
  }

  void run_steps() {
    size_t index = 0;
    for (const auto& step : m_scenario.steps) {
      ++index;
      progress(fmt::format("step {}/{}: {}", index, m_scenario.steps.size(), first_line(step.run)));
      m_session->set_phase({.name = "step", .step = static_cast<int>(index)});
      auto deadline = m_options.gdb ? m_deadline
                                    : std::min(m_deadline, Clock::now() + k_step_grace +
                                                               std::chrono::seconds(step.timeout));
      StepObservation seen{.result = m_session->run(step.run, step.timeout, deadline, m_deadline)};
      using O = GuestSession::Outcome;
      O outcome = seen.result.outcome;
      m_guest_responsive = outcome == O::ok;
      seen.scenario_deadline_passed = Clock::now() >= m_deadline;
      if (outcome != O::ok && outcome != O::interrupted)
        seen.console = m_session->vm().recent_console();
      if (outcome == O::qemu_exited) {
        seen.qemu_exit = qemu_exit_reason(m_session->vm());
        seen.guest_end = guest_end_in_step(*m_session, static_cast<int>(index));
      }
      // The scenario stops at its first failing step; the judge says why.
      bool go_on = outcome == O::ok && judge_step(step, seen.result).empty();
      m_seen.steps.push_back(std::move(seen));
      if (!go_on)
        break;
    }
  }

  // What the judge needs once QEMU is gone, and the artifacts that record it.
  void collect_after_exit() {
    if (!m_session)
      return;
    m_session->shutdown();
    m_report.timeline = m_session->timeline();
    progress("judging");

    m_seen.faults = m_session->faults();
    m_seen.faults_dropped = m_session->faults_dropped();
    m_seen.max_faults = GuestSession::k_max_faults;
    std::string fault_text;
    std::optional<Symbolizer> symbolizer;
    for (const auto& f : m_seen.faults) {
      m_report.faults.push_back(fault_report(f, m_scenario));
      FaultReport& r = m_report.faults.back();
      if (!symbolizer)
        symbolizer.emplace(debug_objects());
      symbolize(r, *symbolizer);
      std::string where = f.phase.name;
      if (r.step_index > 0)
        where = fmt::format("step {} ({}:{})", r.step_index, m_scenario.file.filename().string(),
                            m_scenario.steps[static_cast<size_t>(r.step_index) - 1].line);
      fault_text += fmt::format("=== {} in {}\n{}\n", f.fault.title, where, f.fault.report);
      if (has_source_lines(r))
        fault_text +=
            "--- source lines (from the modules' debug info" +
            std::string(m_debug_vmlinux.empty() ? "" : " and " + m_debug_vmlinux.string()) + ")\n" +
            fault_source_lines(r, "  ");
    }
    if (!fault_text.empty())
      keep(Artifact::faults, fault_text);

    GuestLink& vm = m_session->vm();
    if (!vm.console_log_error().empty())
      artifact_failed(fmt::format("artifact not written: cannot write {}: {}; the console "
                                  "record is incomplete",
                                  m_artifacts.path(Artifact::console_log).string(),
                                  vm.console_log_error()));
    m_seen.console_bytes = vm.console_bytes();
    m_seen.console_log_limit = GuestLink::k_max_console_log;

    KernelLog::Text log = m_session->kernel_log();
    if (log.from_console > 0 || log.lost > 0)
      spdlog::debug("kernel log: {} lines taken from the console, {} records lost",
                    log.from_console, log.lost);
    for (const auto& gap : log.gaps)
      spdlog::debug("kernel log: /dev/kmsg lacked {} records from sequence number {}; the "
                    "console had {} lines for them",
                    gap.missing, gap.first_seq, gap.filled);
    m_kernel_log = std::move(log.text);
    m_seen.kernel_log = m_kernel_log;
    m_seen.kernel_log_lost = log.lost;
    m_report.kernel_log_lost = log.lost;
    keep(Artifact::kernel_log, m_kernel_log);

    fs::path debugcon = m_artifacts.path(Artifact::debugcon);
    std::error_code ec;
    auto debugcon_size = fs::file_size(debugcon, ec);
    if (!m_scenario.expect.trace.empty()) {
      auto log = read_file(m_artifacts.path(Artifact::trace_log));
      if (log)
        m_seen.trace_log = std::move(*log);
      else
        m_seen.trace_log_error = log.error().message;
      m_seen.debugcon_bytes = ec ? 0 : static_cast<uintmax_t>(debugcon_size);
    }
    if (m_scenario.expect.debugcon) {
      DebugconObservation& seen = m_seen.debugcon;
      seen.path = debugcon.string();
      seen.disk_full = filesystem_full(m_options.artifacts).value_or(false);
      if (!ec)
        seen.size = debugcon_size;
      if (!seen.disk_full && !(seen.size && *seen.size > k_max_debugcon_compare))
        if (auto text = read_file(debugcon))
          seen.text = std::move(*text);
    }
  }

  // The files fault frames are resolved in: each .ko the scenario built (its file names
  // mapped back to the user's folder) and, when there is one, the kernel's debug vmlinux.
  std::vector<DebugObject> debug_objects() {
    std::vector<DebugObject> objects;
    for (const auto& m : m_modules) {
      std::string name = module_name(m.ko.filename().string());
      auto folder = m_module_folders.find(name);
      DebugObject object{.module = name, .file = m.ko};
      // The scenario names folders relative to itself ("tests/scenarios/../kmod/x"); reports
      // name files by their absolute, plain path.
      std::error_code ec;
      fs::path dir =
          folder == m_module_folders.end() ? fs::path() : fs::absolute(folder->second, ec);
      if (!dir.empty() && !ec)
        object.map_path = [ko = m.ko, dir = dir.lexically_normal()](const std::string& file) {
          return user_source_file(file, ko, dir);
        };
      objects.push_back(std::move(object));
    }
    m_debug_vmlinux = debug_vmlinux_for(m_lab.profile, m_report.kernel);
    if (!m_debug_vmlinux.empty())
      objects.push_back({.module = "", .file = m_debug_vmlinux});
    return objects;
  }

  // Every frame of the report, with its source lines where the debug info has them.
  void symbolize(FaultReport& fault, Symbolizer& symbolizer) {
    for (auto& frame : stack_frames(fault.report)) {
      bool user = !frame.module.empty() && m_module_folders.contains(frame.module);
      auto source = symbolizer.resolve(frame);
      fault.frames.push_back(
          {.frame = std::move(frame), .source = std::move(source), .user = user});
    }
  }

  // The judge's verdict into the report; the step results move there, never copied.
  void report(Judgement judgement) {
    m_report.verdict = judgement.verdict;
    m_report.exit_code = to_int(judgement.exit_code);
    m_report.skip_reason = std::move(judgement.skip_reason);
    m_report.failures = std::move(judgement.failures);
    m_report.debugcon_diff = std::move(judgement.debugcon_diff);
    for (size_t i = 0; i < m_seen.steps.size(); ++i) {
      const Step& step = m_scenario.steps[i];
      m_report.steps.push_back({.command = step.run,
                                .line = step.line,
                                .result = std::move(m_seen.steps[i].result),
                                .failures = std::move(judgement.step_failures[i])});
    }
    if (!judgement.steps_not_run.empty())
      for (size_t i = m_seen.steps.size(); i < m_scenario.steps.size(); ++i)
        m_report.skipped_steps.push_back({.command = m_scenario.steps[i].run,
                                          .line = m_scenario.steps[i].line,
                                          .reason = judgement.steps_not_run});
  }

  void write_artifacts() {
    auto written = m_artifacts.write(Artifact::result, json_report({m_report}));
    if (!written && m_report.exit_code != to_int(ExitCode::interrupted)) {
      // The scenario's own record is missing: say so rather than pass silently.
      m_report.verdict = Verdict::error;
      m_report.exit_code = to_int(ExitCode::environment);
      m_report.failures.push_back("artifact not written: " + written.error().message);
    }
  }

  const Scenario& m_scenario;
  const LabSetup& m_lab;
  const ScenarioRunOptions& m_options;
  ArtifactFolder m_artifacts; // made anew by run()
  ScenarioReport m_report;
  Observations m_seen;
  Clock::time_point m_deadline;
  std::unique_ptr<GuestSession> m_session;
  std::string m_kernel_log; // m_seen.kernel_log points here
  bool m_guest_responsive = true;
  std::vector<GuestModuleFile> m_modules;                        // the scenario's built modules
  std::map<std::string, std::filesystem::path> m_module_folders; // module name -> its folder
  std::filesystem::path m_debug_vmlinux; // kernel frames resolve in it; empty: none
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
