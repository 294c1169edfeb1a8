#include "run/scenario_pool.h"

#include "util/interrupt.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

namespace labctl {

namespace {

ScenarioReport error_report(const Scenario& scenario, ExitCode code, std::string message) {
  ScenarioReport report;
  report.name = scenario.name;
  report.file = scenario.file;
  report.verdict = Verdict::error;
  report.exit_code = to_int(code);
  report.failures.push_back(std::move(message));
  return report;
}

} // namespace

std::vector<std::optional<ScenarioReport>>
run_scenario_pool(const std::vector<Scenario>& scenarios, unsigned jobs,
                  const std::function<ScenarioReport(size_t)>& run_one,
                  const std::function<bool(size_t, const ScenarioReport&)>& on_done,
                  const std::function<size_t(size_t)>& group) {
  auto group_of = [&](size_t i) { return group ? group(i) : i; };
  // Each worker writes only its own scenarios' slots; std::optional, unlike the bits of a
  // std::vector<bool>, shares no memory word with its neighbours.
  std::vector<std::optional<ScenarioReport>> reports(scenarios.size());
  std::atomic<bool> stop{false};
  std::mutex done_mutex;
  std::mutex next_mutex;
  size_t next_index = 0;
  std::optional<size_t> last_group; // of the last entry handed out

  // The next entry to run, or none.
  auto take = [&]() -> std::optional<size_t> {
    std::lock_guard lock(next_mutex);
    if (next_index >= scenarios.size() || interrupted())
      return std::nullopt;
    if (stop && (!last_group || group_of(next_index) != *last_group))
      return std::nullopt;
    last_group = group_of(next_index);
    return next_index++;
  };

  auto worker = [&] {
    for (;;) {
      auto taken = take();
      if (!taken)
        return;
      size_t i = *taken;
      ScenarioReport report;
      try {
        report = run_one(i);
      } catch (const FatalError& e) {
        report = error_report(scenarios[i], e.error().code, e.error().message);
      } catch (const util::FailureError& e) {
        report = error_report(scenarios[i], Error(e.failure()).code, e.failure().message);
      } catch (const std::exception& e) {
        report = error_report(scenarios[i], ExitCode::environment,
                              fmt::format("labctl stopped this scenario: {}", e.what()));
      }
      std::lock_guard lock(done_mutex);
      reports[i] = std::move(report);
      if (!on_done(i, *reports[i]))
        stop = true;
    }
  };
  jobs =
      std::clamp<unsigned>(jobs, 1, static_cast<unsigned>(std::max<size_t>(1, scenarios.size())));
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < jobs; ++t)
    threads.emplace_back(worker);
  for (auto& t : threads)
    t.join();
  return reports;
}

} // namespace labctl
