#include "cmd/commands.h"

#include "config/scenario.h"
#include "run/guest_boot.h"
#include "run/lab_setup.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace labctl {

int command_initrd(const GlobalOptions& global, const InitrdOptions& options) {
  std::vector<ScenarioModule> modules;
  std::map<std::string, fs::path> files;
  if (!options.scenario.empty()) {
    Scenario s = load_scenario(options.scenario).take();
    modules = s.modules;
    files = s.files;
  }
  for (const auto& m : options.modules)
    modules.push_back({m, ""});
  Profile profile = load_selected_profile(global);
  LabSetup lab = prepare_lab(profile).take();

  // The same assembly as run and shell: same modules (with their Module.symvers chain and
  // modules.dep), the profile's kernel_modules, the same files.
  auto assembled = assemble_guest(lab, modules, files, {});
  if (!assembled) {
    if (assembled.error().code != ExitCode::failed)
      throw FatalError(assembled.error());
    std::fputs(assembled.error().message.c_str(), stderr);
    return to_int(ExitCode::failed);
  }
  const GuestImage& image = assembled->image;
  std::error_code ec;
  fs::copy_file(image.path, options.output, fs::copy_options::overwrite_existing, ec);
  if (ec)
    throw FatalError(
        environment_error(fmt::format("cannot write {}: {}", options.output, ec.message())));
  if (options.list)
    for (const auto& line : image.listing)
      std::puts(line.c_str());
  spdlog::info("wrote {}", options.output);
  return to_int(ExitCode::passed);
}

} // namespace labctl
