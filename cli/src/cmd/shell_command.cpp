#include "cmd/commands.h"

#include "config/scenario.h"
#include "judge/trace_check.h"
#include "run/lab_setup.h"
#include "run/shell_session.h"
#include "util/fs.h"

#include <fmt/format.h>

namespace labctl {

namespace {

fs::path default_shell_artifacts() {
  return timestamped_folder(cache_root() / "shells");
}

ScenarioModule module_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw FatalError(bad_input(fmt::format("--module {}: no such folder", dir)));
  if (!is_module_folder(dir))
    throw FatalError(bad_input(fmt::format(
        "--module {}: no Kbuild, Makefile or dkms.conf, so it is not a kernel module folder",
        dir)));
  return {dir, ""};
}

} // namespace

int command_shell(const GlobalOptions& global, const ShellOptions& options) {
  if (options.trace == "help")
    return command_trace_help(global);
  ShellRequest request;
  std::vector<std::string> scenario_trace;
  std::vector<Scenario> scenarios; // the one given, for check_trace_patterns
  if (!options.scenario.empty()) {
    const Scenario& s = scenarios.emplace_back(load_scenario(options.scenario).take());
    request.guest.modules = s.modules;
    request.guest.files = s.files;
    scenario_trace = s.trace;
  }
  for (const auto& dir : options.modules)
    request.guest.modules.push_back(module_folder(dir));
  request.guest.trace = trace_patterns(scenario_trace, options.trace);
  request.guest.artifacts = ArtifactFolder(
      options.artifacts.empty() ? default_shell_artifacts() : fs::path(options.artifacts),
      ArtifactFolder::Kind::kept); // the user may name a folder of their own: never emptied
  request.guest.gdb = options.gdb || options.gdb_wait;
  request.gdb_wait = options.gdb_wait;

  Profile profile = load_selected_profile(global);
  check_trace_patterns(profile.qemu, scenarios, options.trace).take();
  LabSetup lab = prepare_lab(profile).take();
  return run_shell_session(lab, request);
}

} // namespace labctl
