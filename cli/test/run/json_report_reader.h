#pragma once

#include "run/report.h"

#include <string>
#include <vector>

namespace labctl {

// Read a --json report back into ScenarioReports, for the round-trip tests (production never
// reads one); bad input names the problem.
Result<std::vector<ScenarioReport>> parse_json_report(const std::string& text);

} // namespace labctl
