#pragma once

#include "lab/scenario.h"
#include "run/lab_setup.h"
#include "run/report.h"

#include <filesystem>
#include <functional>
#include <string>

namespace labctl {

struct ScenarioRunOptions {
  std::filesystem::path artifacts; // this scenario's artifacts directory
  std::function<void(const std::string&)> progress; // "booting", "step 2/5: ..."
};

// Build, pack, boot, drive and judge one scenario. Never throws for the scenario's own
// problems: they become the report's verdict ("failed", or "error" with exit code 3/130).
ScenarioReport run_scenario(const Scenario& scenario, const LabSetup& lab,
                            const ScenarioRunOptions& options);

} // namespace labctl
