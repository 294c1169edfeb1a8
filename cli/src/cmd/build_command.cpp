#include "cmd/commands.h"

#include "build/module_build.h"
#include "util/fs.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace labctl {

int command_build(const GlobalOptions& global, const BuildOptions& options) {
  Profile profile = load_selected_profile(global);
  Kernel kernel = resolve_kernel(profile).take();
  // Each --with folder links against the ones before it, MODULE_DIR against all of them.
  std::vector<fs::path> symbols;
  std::vector<std::string> dirs = options.with;
  dirs.push_back(options.module_dir);
  Result<BuiltModule> built = Error{ExitCode::failed, ""};
  for (const auto& dir : dirs) {
    built = build_module({dir, kernel, cache_root(), {}, symbols});
    if (!built) {
      if (built.error().code != ExitCode::failed)
        throw FatalError(built.error());
      std::fputs(built.error().message.c_str(), stderr);
      return to_int(ExitCode::failed);
    }
    if (built->excluded) {
      // Not an error: dkms, too, builds nothing for a kernel the package rules out.
      std::fprintf(stderr, "module %s (DKMS package %s %s): excluded for %s: %s\n",
                   built->source_dir.c_str(), built->package_name.c_str(),
                   built->package_version.c_str(), kernel.version.c_str(),
                   built->excluded->c_str());
      continue;
    }
    if (!built->package_name.empty())
      std::fprintf(stderr, "module %s: DKMS package %s %s\n", built->source_dir.c_str(),
                   built->package_name.c_str(), built->package_version.c_str());
    if (!built->warnings.empty())
      std::fprintf(stderr, "module %s built with warnings:\n%s", built->source_dir.c_str(),
                   built->warnings.c_str());
    if (!built->symvers.empty())
      symbols.push_back(built->symvers);
  }
  if (built->excluded)
    return to_int(ExitCode::passed);
  spdlog::debug("module {} {} (key {})", built->source_dir.string(),
                built->cached ? "was cached" : "built", built->key);
  for (const auto& ko : built->ko_files)
    std::puts(ko.c_str());
  return to_int(ExitCode::passed);
}

} // namespace labctl
