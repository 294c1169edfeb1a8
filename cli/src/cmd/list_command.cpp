#include "cmd/commands.h"

#include "config/data_dir.h"
#include "config/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace labctl {

int command_list(const GlobalOptions&, const ListOptions& options) {
  if (options.profiles) {
    auto profiles = list_profiles(profile_search_dirs());
    size_t width = 0;
    for (const auto& p : profiles)
      width = std::max(width, p.file.stem().string().size());
    for (const auto& p : profiles)
      std::puts(
          fmt::format("{:<{}}  {} ({})", p.file.stem().string(), width, p.file.string(), p.origin)
              .c_str());
    return to_int(ExitCode::passed);
  }
  std::string dir = options.dir.empty() ? (data_dir() / "scenarios").string() : options.dir;
  auto files = expand_scenario_args({dir}).take();
  std::vector<Scenario> scenarios;
  size_t width = 0;
  for (const auto& f : files) {
    scenarios.push_back(load_scenario(f).take());
    width = std::max(width, scenarios.back().name.size());
  }
  for (const auto& s : scenarios)
    std::puts(fmt::format("{:<{}}  {}", s.name, width, s.description).c_str());
  return to_int(ExitCode::passed);
}

} // namespace labctl
