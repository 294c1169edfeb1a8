#pragma once

#include "lab/kernel_locator.h"
#include "util/result.h"

#include <filesystem>
#include <string>
#include <vector>

namespace labctl {

// One out-of-tree module folder (Kbuild/Makefile + sources) to build against a kernel.
struct ModuleBuildRequest {
  std::filesystem::path source_dir;
  Kernel kernel;
  std::filesystem::path cache_dir; // builds live in cache_dir/modules/<key>/
  std::vector<std::string> make_flags; // extra make variables, part of the cache key
};

// The result of a build: the .ko files and whether the cache answered.
struct BuiltModule {
  std::filesystem::path source_dir;
  std::vector<std::filesystem::path> ko_files;
  bool cached = false;
  std::string key;
};

// Build with kbuild in a private copy under the cache (the source folder is never written).
// Unchanged sources, kernel and flags reuse the previous build without running make.
// A compile error is a `failed` Error whose message holds the compiler's diagnostics with
// paths pointing at the user's files; missing headers are an environment Error. SIGINT,
// SIGTERM or SIGHUP end make's whole process group at once and give an `interrupted` Error,
// with no build copy left in the cache; copies left by a labctl that died are removed.
Result<BuiltModule> build_module(const ModuleBuildRequest& request);

// The cache key: sources (names and contents), the kernel's build tree identity, flags.
Result<std::string> module_cache_key(const ModuleBuildRequest& request);

// Rewrite paths in compiler output from the build copy back to the user's folder and drop
// make's bookkeeping lines.
std::string map_compiler_output(const std::string& output, const std::filesystem::path& copy,
                                const std::filesystem::path& source);

} // namespace labctl
