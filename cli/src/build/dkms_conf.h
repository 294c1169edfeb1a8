#pragma once

// A DKMS source folder's dkms.conf, read the way dkms(8) reads it: sourced by bash with the
// variables dkms defines, then its arrays interpreted with dkms's defaults and rules (which
// make command, which patches, which .ko files, whether the kernel qualifies).

#include "core/error.h"
#include "host/kernel_locator.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

inline constexpr const char* k_dkms_conf = "dkms.conf";

// The variables dkms sets before it sources a dkms.conf (and has when it runs MAKE).
struct DkmsContext {
  std::string kernelver;                   // the kernel release, 6.1.0-57-amd64
  std::string arch = "x86_64";             // uname -m of that kernel
  std::filesystem::path kernel_source_dir; // its kbuild tree (headers)
  // $dkms_tree/$PACKAGE_NAME/$PACKAGE_VERSION/build is the folder the package is built in.
  std::filesystem::path dkms_tree = "/var/lib/dkms";
  std::filesystem::path source_tree = "/usr/src"; // where dkms finds <name>-<version>/
  std::filesystem::path install_tree = "/lib/modules";
  int parallel_jobs = 1; // dkms's -j: its make command becomes `make -jN KERNELRELEASE=...`
};

// The variables a dkms.conf sets, as bash left them: name -> index -> value (a plain
// `MAKE="..."` is MAKE[0], as in bash). Values have a trailing CR removed, as dkms does.
using DkmsArrays = std::map<std::string, std::map<long, std::string>>;

// The dkms.conf variables dkms accepts (dkms.in's dkms_conf_variables).
const std::vector<std::string>& dkms_conf_variables();

// Source `conf` in a child bash started with an empty environment (PATH, LC_ALL=C only)
// and `cwd` as its working directory, with the DkmsContext's variables set as dkms sets
// them; the child prints only the resulting arrays (NUL-separated), which are parsed, never
// evaluated. The file runs exactly what dkms's `source` of it would run. Bad input, naming
// the file and bash's line, when bash rejects its syntax.
Result<DkmsArrays> evaluate_dkms_conf(const std::filesystem::path& conf, const DkmsContext& context,
                                      const std::filesystem::path& cwd);

// One BUILT_MODULE_NAME[n] record.
struct DkmsModule {
  std::string name;                    // BUILT_MODULE_NAME[n], without .ko
  std::string location;                // BUILT_MODULE_LOCATION[n], "" or ending in '/'
  std::optional<std::string> excluded; // a per-module BUILD_EXCLUSIVE_* reason
  std::filesystem::path ko() const { return location + name + ".ko"; }
};

// What dkms would do with a dkms.conf for one kernel.
struct DkmsRecipe {
  std::string package_name;
  std::string package_version;
  std::vector<DkmsModule> modules; // in index order: the order they are loaded in
  // The command dkms runs in the build folder (MAKE[0], or the last MAKE[n] whose
  // MAKE_MATCH[n] matches the release, or dkms's default), with dkms's
  // `make -jN KERNELRELEASE=<release>` in place of its leading `make`.
  std::string make_command;
  std::vector<std::string> patches; // PATCH[n] that apply to this release, under patches/
  // Why the kernel does not qualify (BUILD_EXCLUSIVE_*): no module is built for it.
  std::optional<std::string> excluded;
};

// Interpret evaluated arrays as dkms does, for `context`'s kernel whose configuration is
// `kernel_config` (include/config/auto.conf or .config; "" when absent). Bad input naming
// `conf` when PACKAGE_NAME, PACKAGE_VERSION or a BUILT_MODULE_NAME is missing, a name ends
// in .o/.ko, a location or patch leaves the folder, or a BUILD_EXCLUSIVE regex is invalid.
Result<DkmsRecipe> dkms_recipe(const DkmsArrays& arrays, const DkmsContext& context,
                               std::string_view kernel_config, const std::filesystem::path& conf);

// dkms's VER(): a release with every number padded to three digits, so that releases
// compare as strings (2.6.9-1 -> 002.006.009-001).
std::string dkms_ver(std::string_view release);

// Whether `text` matches the POSIX extended regex `pattern` anywhere (bash's =~); nullopt
// when the pattern is invalid.
std::optional<bool> dkms_regex_match(const std::string& pattern, const std::string& text);

// The context dkms has for `kernel` (its release, kbuild tree, the machine's arch, the
// build parallelism), building under `dkms_tree`.
DkmsContext dkms_context(const Kernel& kernel, const std::filesystem::path& dkms_tree);

// The kernel configuration dkms reads for BUILD_EXCLUSIVE_CONFIG: include/config/auto.conf,
// else .config, of the kbuild tree; "" when neither exists.
std::string dkms_kernel_config(const std::filesystem::path& kernel_source_dir);

// The recipe of the DKMS folder `dir` for `kernel`: its dkms.conf evaluated in a scratch copy
// of the folder (never in the folder itself), with dkms's own default dkms_tree.
Result<DkmsRecipe> read_dkms_recipe(const std::filesystem::path& dir, const Kernel& kernel);

} // namespace labctl
