#include "cmd/commands.h"

#include "lab/module_build.h"
#include "util/fs.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace labctl {

int command_build(const GlobalOptions& global, const BuildOptions& options) {
  Profile profile = load_selected_profile(global);
  Kernel kernel = resolve_kernel(profile).take();
  auto built = build_module({options.module_dir, kernel, cache_root(), {}});
  if (!built) {
    if (built.error().code != ExitCode::failed)
      throw FatalError(built.error());
    std::fputs(built.error().message.c_str(), stderr);
    return to_int(ExitCode::failed);
  }
  spdlog::debug("module {} {} (key {})", built->source_dir.string(),
                built->cached ? "was cached" : "built", built->key);
  for (const auto& ko : built->ko_files)
    std::puts(ko.c_str());
  return to_int(ExitCode::passed);
}

} // namespace labctl
