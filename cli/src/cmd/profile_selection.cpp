#include "cmd/commands.h"

#include "config/data_dir.h"

#include <spdlog/spdlog.h>

namespace labctl {

namespace {

// "all", "auto" or releases ("6.1.0-57-amd64,6.12.118+deb12-amd64"), as opposed to the path
// of an image (a '/' or the vmlinuz- prefix, or a file that exists).
bool is_kernel_selection(const std::string& value) {
  std::error_code ec;
  return !value.empty() && value.find('/') == std::string::npos &&
         value.rfind("vmlinuz-", 0) != 0 && !std::filesystem::exists(value, ec);
}

} // namespace

ProfileLocation selected_profile_location(const GlobalOptions& global) {
  return find_profile(global.profile, profile_search_dirs()).take();
}

Profile load_selected_profile(const GlobalOptions& global) {
  Profile profile = load_profile(selected_profile_location(global).file).take();
  if (is_kernel_selection(global.kernel)) {
    // --kernel all | auto | R1,R2: the kernels a run uses, like the profile's "kernels".
    profile.kernel_auto = true;
    profile.kernel_version.clear();
    profile.kernel_image.clear();
    profile.kernel_build.clear();
    profile.modules_dir.clear();
    profile.kernels.clear();
    if (global.kernel != "auto") {
      for (size_t start = 0;;) {
        size_t comma = global.kernel.find(',', start);
        std::string release = global.kernel.substr(
            start, comma == std::string::npos ? std::string::npos : comma - start);
        if (release.empty() || (release == "all" && global.kernel != "all"))
          throw FatalError(bad_input("--kernel " + global.kernel +
                                     ": expected all, auto, a kernel image, or releases "
                                     "separated by commas"));
        profile.kernels.push_back(release);
        if (comma == std::string::npos)
          break;
        start = comma + 1;
      }
    }
  } else if (!global.kernel.empty()) {
    // --kernel names an image; its headers come from the matching /lib/modules tree.
    profile.kernels.clear(); // one kernel, whatever the profile's "kernels" says
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
