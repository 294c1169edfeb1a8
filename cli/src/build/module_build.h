#pragma once

#include "core/error.h"
#include "host/kernel_locator.h"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// One out-of-tree module folder (Kbuild/Makefile + sources, or a DKMS source folder with a
// dkms.conf) to build against a kernel.
struct ModuleBuildRequest {
  std::filesystem::path source_dir;
  Kernel kernel;
  std::filesystem::path cache_dir;     // builds live in cache_dir/modules/<key>/
  std::vector<std::string> make_flags; // extra make variables, part of the cache key
  // Module.symvers of modules built before this one that it may link against (kbuild's
  // KBUILD_EXTRA_SYMBOLS), in order; their contents are part of the cache key.
  std::vector<std::filesystem::path> extra_symbols;
};

// The result of a build: the .ko files and whether the cache answered.
struct BuiltModule {
  std::filesystem::path source_dir;
  std::vector<std::filesystem::path> ko_files; // in kbuild's modules.order (load order)
  bool cached = false;
  std::string key;
  std::filesystem::path symvers; // this build's Module.symvers, for the folders after it
  // Compiler and modpost warnings of the build (kept with a cached build), at the user's
  // paths; empty when it built cleanly.
  std::string warnings;
  // A DKMS folder's PACKAGE_NAME and PACKAGE_VERSION ("" for a plain kbuild folder).
  std::string package_name;
  std::string package_version;
  // Why a DKMS folder builds nothing for this kernel (its BUILD_EXCLUSIVE_* rules, as
  // "BUILD_EXCLUSIVE_KERNEL '^5\.' does not match 6.1.0-57-amd64"); ko_files is then empty.
  std::optional<std::string> excluded;
};

// Build with kbuild in a private copy under the cache (the source folder is never written).
// make runs in the source folder with PWD set to it, so its Makefile sees the PWD a user's
// `make` there would (`-I$(PWD)/../include`). Unchanged sources, kernel, flags and extra
// symbols reuse the previous build without running make, as long as every other file
// kbuild read for it (its .*.cmd dependency lists) is unchanged too.
// A DKMS folder (one with a dkms.conf) is built as `dkms build` builds it: its dkms.conf is
// evaluated (build/dkms_conf.h), the copy is its build folder
// ($dkms_tree/$PACKAGE_NAME/$PACKAGE_VERSION/build), its PATCH[n] are applied there with
// `patch -p1`, its make command runs there, and its BUILT_MODULE_NAME[n] (in
// BUILT_MODULE_LOCATION[n]) are the .ko files, in index order; a kernel its BUILD_EXCLUSIVE_*
// rules out is no error but `excluded`.
// A compile error is a `failed` Error whose message holds the compiler's diagnostics with
// paths pointing at the user's files; missing headers are an environment Error. SIGINT,
// SIGTERM or SIGHUP end make's whole process group at once and give an `interrupted` Error,
// with no build copy left in the cache; copies left by a labctl that died are removed.
Result<BuiltModule> build_module(const ModuleBuildRequest& request);

// The entries of kbuild's modules.order (one object or module path a line), in order.
std::vector<std::string> parse_modules_order(std::string_view text);

// The diagnostics in kbuild's (already mapped) output: its progress lines (`  CC [M]  x.o`,
// BTF notes) dropped, compiler and modpost messages kept.
std::string kbuild_diagnostics(const std::string& output);

// Only the compiler's and modpost's messages in make's output (gcc's `file:line:col:
// warning:`/`error:`/`note:` lines with their "In function", "In file included from" and
// source excerpt lines, modpost's WARNING/ERROR lines, make's `***` lines): what a build
// whose make command echoes every command (V=1) said about the sources.
std::string compiler_messages(const std::string& output);

// A failed build's diagnostics led by the first `error:` line at a file under `source`
// (else the first `error:` line at all), then everything else as kbuild printed it.
std::string lead_with_first_error(const std::string& diagnostics,
                                  const std::filesystem::path& source);

// Rewrite paths in compiler output from the build copy back to the user's folder and drop
// make's bookkeeping lines.
std::string map_compiler_output(const std::string& output, const std::filesystem::path& copy,
                                const std::filesystem::path& source);

// The user's file for a file name the compiler recorded in a build's debug info: a build copy
// names its sources by the copy's path (`<cache>/modules/<key>.tmp.<pid>/src/x.c`, a DKMS
// build `.../<key>.tmp.<pid>/dkms/<name>/<version>/build/x.c`, a cache path make cannot spell
// `/proc/<pid>/fd/<n>/x.c`), which is `source/x.c`. `ko` is one of the build's .ko files (in
// `<cache>/modules/<key>/src/`), which gives the key. Any other name is returned as it is.
std::string user_source_file(const std::string& compiled, const std::filesystem::path& ko,
                             const std::filesystem::path& source);

} // namespace labctl
