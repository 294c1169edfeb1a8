#include "cmd/commands.h"

#include "config/data_dir.h"

#include <spdlog/spdlog.h>

namespace labctl {

Profile load_selected_profile(const GlobalOptions& global) {
  Profile profile = load_profile(profile_path(global.profile, configs_dir())).take();
  if (!global.kernel.empty()) {
    // --kernel names an image; its headers come from the matching /lib/modules tree.
    std::filesystem::path image = global.kernel;
    std::string name = image.filename().string();
    if (name.rfind("vmlinuz-", 0) == 0) {
      profile.kernel_auto = false;
      profile.kernel_version.clear();
      profile.kernel_image = image;
      profile.modules_dir = std::filesystem::path("/lib/modules") / name.substr(8);
      profile.kernel_build = profile.modules_dir / "build";
    } else {
      profile.kernel_auto = false;
      profile.kernel_version.clear();
      profile.kernel_image = image;
      if (profile.kernel_build.empty())
        throw FatalError(
            bad_input("--kernel " + global.kernel +
                      ": cannot tell its headers from the name (expected vmlinuz-<release>); use a "
                      "profile with an explicit kernel.build"));
    }
  }
  spdlog::debug("profile: {}", profile.file.string());
  return profile;
}

} // namespace labctl
