#include "cmd/commands.h"

#include "lab/data_dir.h"
#include "lab/guest_image.h"
#include "lab/module_build.h"
#include "lab/scenario.h"
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

  GuestImageSpec spec;
  spec.busybox = profile.busybox;
  spec.applets = lab.busybox_applets;
  spec.initrd_dir = initrd_dir();
  spec.files = files;
  spec.compression = profile.initrd_compression;
  for (const auto& m : modules) {
    auto built = build_module({m.dir, lab.kernel, lab.cache, {}});
    if (!built) {
      if (built.error().code != ExitCode::failed)
        throw FatalError(built.error());
      std::fputs(built.error().message.c_str(), stderr);
      return to_int(ExitCode::failed);
    }
    for (const auto& ko : built->ko_files)
      spec.modules.push_back({ko.stem().string(), ko, m.params});
  }
  GuestImage image = build_guest_image(spec, lab.cache).take();
  std::error_code ec;
  fs::copy_file(image.path, options.output, fs::copy_options::overwrite_existing, ec);
  if (ec)
    throw FatalError(environment_error(
        fmt::format("cannot write {}: {}", options.output, ec.message())));
  if (options.list)
    for (const auto& line : image.listing)
      std::puts(line.c_str());
  spdlog::info("wrote {}", options.output);
  return to_int(ExitCode::passed);
}

} // namespace labctl
