#include "cmd/commands.h"

#include "config/scenario.h"
#include "judge/trace_check.h"
#include "run/lab_setup.h"
#include "run/report.h"
#include "run/scenario_pool.h"
#include "run/scenario_runner.h"
#include "run/shard.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/visible_bytes.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace labctl {

namespace {

// One status line on a terminal, rewritten in place; nothing when stderr is not a TTY.
class ProgressLine {
public:
  explicit ProgressLine(bool enabled) : m_enabled(enabled) {}
  void show(const std::string& text) {
    if (!m_enabled)
      return;
    std::lock_guard lock(m_mutex);
    std::string line = text.substr(0, 100);
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
  }
  void clear() {
    if (!m_enabled)
      return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  std::mutex& mutex() { return m_mutex; }

private:
  bool m_enabled;
  std::mutex m_mutex;
};

// In the artifacts root; held (flock) for the whole run.
constexpr const char* k_artifacts_lock = ".labctl-lock";

fs::path default_artifacts_root() {
  return timestamped_folder(cache_root() / "runs");
}

} // namespace

int command_run(const GlobalOptions& global, const RunOptions& options) {
  if (options.trace == "help")
    return command_trace_help(global);
  // Everything is validated before anything boots.
  if (options.shell_on_failure && !::isatty(STDIN_FILENO))
    throw FatalError(bad_input("--shell-on-failure needs a terminal: stdin is not a tty (the "
                               "shell reads your keys from it)"));
  auto files = expand_scenario_args(options.scenarios).take();
  std::optional<Shard> shard;
  if (!options.shard.empty())
    shard = parse_shard(options.shard).take();
  std::vector<Scenario> loaded;
  for (const auto& f : files)
    loaded.push_back(load_scenario(f).take());
  if (options.jobs < 0)
    throw FatalError(bad_input(
        fmt::format("--jobs {}: must be 0 (one VM per CPU, the default) or more", options.jobs)));

  Profile profile = load_selected_profile(global);
  check_trace_patterns(profile.qemu, loaded, options.trace).take();
  // One LabSetup per kernel; every (scenario, kernel) pair is one result.
  std::vector<LabSetup> labs = prepare_labs(profile).take();
  std::vector<std::string> releases;
  for (const auto& lab : labs)
    releases.push_back(lab.kernel.version);
  std::vector<RunPair> pairs = expand_pairs(files, releases);
  if (shard)
    pairs = select_shard(pairs, *shard);
  // The pool sees one Scenario per pair, named as its result is ("smoke@6.12.118+deb12-amd64"
  // when there are several kernels).
  std::vector<Scenario> scenarios;
  for (const auto& pair : pairs) {
    scenarios.push_back(loaded[pair.scenario]);
    if (labs.size() > 1)
      scenarios.back().name += "@" + releases[pair.kernel];
  }
  // Artifacts: <root>/<name> (<name>-<n> when two files share a name), with "@<release>"
  // after it when there are several kernels.
  auto artifacts_name = [&](const RunPair& pair) {
    const Scenario& s = loaded[pair.scenario];
    bool shared = std::count_if(loaded.begin(), loaded.end(),
                                [&](const Scenario& o) { return o.name == s.name; }) > 1;
    std::string name = shared ? fmt::format("{}-{}", s.name, pair.scenario + 1) : s.name;
    return labs.size() > 1 ? name + "@" + releases[pair.kernel] : name;
  };

  fs::path root =
      options.artifacts.empty() ? default_artifacts_root() : fs::path(options.artifacts);
  unsigned jobs = options.jobs > 0 ? static_cast<unsigned>(options.jobs)
                                   : std::max(1u, std::thread::hardware_concurrency());
  jobs = std::min<unsigned>(jobs, static_cast<unsigned>(std::max<size_t>(1, scenarios.size())));
  if (options.gdb || options.gdb_wait || options.shell_on_failure)
    jobs = 1; // one debugger session, one terminal, at a time

  bool tty = ::isatty(STDERR_FILENO) && global.verbosity != Verbosity::quiet;
  bool color = use_color() && ::isatty(STDOUT_FILENO);
  ProgressLine progress(tty);
  // One run per artifacts root at a time: two would mix their files in the same folders.
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    throw FatalError(environment_error(
        fmt::format("cannot create artifacts folder {}: {}", root.string(), ec.message())));
  auto root_lock = FileLock::try_acquire(root / k_artifacts_lock);
  if (!root_lock)
    throw FatalError(
        environment_error(fmt::format("artifacts folder {} is in use by another labctl run: {}",
                                      root.string(), root_lock.error().message)));

  auto run_one = [&](size_t i) {
    const Scenario& s = scenarios[i];
    const LabSetup& lab = labs[pairs[i].kernel];
    ScenarioRunOptions run_options;
    run_options.skip_reason = skip_reason(s, lab.kernel.version);
    run_options.artifacts = root / artifacts_name(pairs[i]);
    run_options.gdb = options.gdb || options.gdb_wait;
    run_options.gdb_wait = options.gdb_wait;
    run_options.trace = options.trace;
    run_options.shell_on_failure = options.shell_on_failure;
    run_options.progress = [&, i](const std::string& what) {
      progress.show(
          fmt::format("[{}/{}] {}: {}", i + 1, scenarios.size(), scenarios[i].name, what));
    };
    return run_scenario(s, lab, run_options);
  };
  auto group = [&](size_t i) { return pairs[i].scenario; };
  auto on_done = [&](size_t, const ScenarioReport& report) {
    {
      std::lock_guard lock(progress.mutex());
      if (tty)
        std::fprintf(stderr, "\r\033[K");
      std::puts(terminal_summary_line(report, color).c_str());
      std::fputs(build_warnings_text(report).c_str(), stdout);
      std::fputs(notes_text(report).c_str(), stdout);
      std::fputs(failure_explanation(report).c_str(), stdout);
      std::fflush(stdout);
    }
    return passing(report.verdict) || !options.fail_fast;
  };
  auto reports = run_scenario_pool(scenarios, jobs, run_one, on_done, group);
  progress.clear();

  std::vector<ScenarioReport> done;
  std::vector<std::string> not_run_names;
  for (size_t i = 0; i < reports.size(); ++i)
    if (reports[i]) {
      done.push_back(std::move(*reports[i]));
      if (done.back().kernel.empty()) // an error report of the pool
        done.back().kernel = labs[pairs[i].kernel].kernel.version;
    } else {
      not_run_names.push_back(escape_bytes(scenarios[i].name));
    }
  auto count = [&](Verdict v) {
    return std::count_if(done.begin(), done.end(), [&](auto& r) { return r.verdict == v; });
  };
  size_t passed = count(Verdict::passed);
  size_t skipped = count(Verdict::skipped);
  size_t not_run = scenarios.size() - done.size();
  std::printf("%zu passed, %zu failed%s%s\n", passed, done.size() - passed - skipped,
              skipped ? fmt::format(", {} skipped", skipped).c_str() : "",
              not_run ? fmt::format(", {} not run ({}): {}", not_run,
                                    interrupted() ? "interrupted"
                                                  : "--fail-fast stopped at the first failure",
                                    fmt::join(not_run_names, ", "))
                            .c_str()
                      : "");
  std::printf("artifacts: %s\n", root.c_str());
  // Before the reports: --json /dev/stdout appends after these lines.
  std::fflush(stdout);

  // A report CI expects but cannot get fails the run, whatever the scenarios did.
  bool report_failed = false;
  auto write_report = [&](const char* option, const std::string& path, const std::string& text) {
    if (path.empty())
      return;
    if (auto s = write_report_file(path, text); !s) {
      spdlog::error("{} report not written: {}", option, s.error().message);
      report_failed = true;
    }
  };
  write_report("--junit", options.junit, junit_xml(done));
  write_report("--json", options.json, json_report(done));

  if (interrupted())
    return to_int(ExitCode::interrupted);
  int code = suite_exit_code(done);
  if (report_failed && code != to_int(ExitCode::interrupted))
    code = std::max(code, to_int(ExitCode::environment));
  return code;
}

} // namespace labctl
