#include "cmd/commands.h"

#include "run/doctor.h"
#include "util/fs.h"
#include "util/log.h"

#include <fmt/color.h>
#include <fmt/format.h>

#include <cstdio>
#include <unistd.h>

namespace labctl {

int command_doctor(const GlobalOptions& global) {
  Profile profile = load_selected_profile(global);
  bool color = use_color() && ::isatty(STDOUT_FILENO);
  bool all_ok = true;
  auto location = selected_profile_location(global);
  std::string ok = color ? fmt::format(fg(fmt::color::green), "ok") : "ok";
  std::puts(
      fmt::format("{:<8} {:<8} {} ({})", ok, "profile", location.file.string(), location.origin)
          .c_str());
  for (const auto& check : run_doctor(profile, {}, cache_root())) {
    std::string status = check.ok ? "ok" : check.required ? "MISSING" : "missing";
    if (color)
      status = fmt::format(fg(check.ok ? fmt::color::green : fmt::color::red), "{}", status);
    std::string line = fmt::format("{:<8} {:<8} {}", status, check.name, check.detail);
    if (!check.ok && !check.fix.empty())
      line += fmt::format(" -> {}", check.fix);
    std::puts(line.c_str());
    all_ok = all_ok && (check.ok || !check.required);
  }
  return to_int(all_ok ? ExitCode::passed : ExitCode::environment);
}

} // namespace labctl
