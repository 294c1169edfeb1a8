#pragma once

#include "config/scenario.h"
#include "run/report.h"

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

namespace labctl {

// Runs scenarios on up to `jobs` worker threads (-j). `run_one(i)` runs scenarios[i];
// `on_done(i, report)` is called once per finished scenario, one call at a time, and
// returns false to hand out no further scenarios (a failure with --fail-fast). An
// exception escaping `run_one` becomes an "error" report for that scenario (the
// FatalError's exit code, else 3 with the exception's text) instead of std::terminate.
// No new scenario starts once a signal arrived. The result has one entry per scenario,
// empty for those that never started. `group(i)` (non-decreasing in i; default: i itself)
// ties entries together: after on_done said stop, the entries of a group that already
// started still run (the other kernels of a scenario that failed on one), no others.
std::vector<std::optional<ScenarioReport>>
run_scenario_pool(const std::vector<Scenario>& scenarios, unsigned jobs,
                  const std::function<ScenarioReport(size_t)>& run_one,
                  const std::function<bool(size_t, const ScenarioReport&)>& on_done,
                  const std::function<size_t(size_t)>& group = {});

} // namespace labctl
