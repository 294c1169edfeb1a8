#include "build/dkms_conf.h"

#include "build/module_cache.h"
#include "util/fs.h"
#include "util/process.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <regex.h>
#include <sstream>
#include <unistd.h>

namespace labctl {

namespace fs = std::filesystem;

const std::vector<std::string>& dkms_conf_variables() {
  static const std::vector<std::string> names = {"PACKAGE_NAME",
                                                 "PACKAGE_VERSION",
                                                 "POST_ADD",
                                                 "POST_BUILD",
                                                 "POST_INSTALL",
                                                 "POST_REMOVE",
                                                 "PRE_BUILD",
                                                 "PRE_INSTALL",
                                                 "BUILD_DEPENDS",
                                                 "BUILD_EXCLUSIVE_ARCH",
                                                 "BUILD_EXCLUSIVE_CONFIG",
                                                 "BUILD_EXCLUSIVE_KERNEL",
                                                 "BUILD_EXCLUSIVE_KERNEL_MIN",
                                                 "BUILD_EXCLUSIVE_KERNEL_MAX",
                                                 "OBSOLETE_BY",
                                                 "MAKE",
                                                 "MAKE_MATCH",
                                                 "PATCH",
                                                 "PATCH_MATCH",
                                                 "BUILT_MODULE_NAME",
                                                 "BUILT_MODULE_LOCATION",
                                                 "DEST_MODULE_NAME",
                                                 "DEST_MODULE_LOCATION",
                                                 "STRIP",
                                                 "AUTOINSTALL",
                                                 "NO_WEAK_MODULES",
                                                 "CLEAN"};
  return names;
}

namespace {

// The child bash's script. $1 is the dkms.conf, $2.. the variables dkms defines for it.
// It checks the syntax first (a file bash rejects is reported, not half sourced), sources the
// file with its stdout discarded (as dkms's safe_source does) and prints each array element
// as `name NUL index NUL value NUL` on a descriptor the file's own output never reaches.
std::string evaluation_script() {
  std::string names;
  for (const auto& n : dkms_conf_variables())
    names += " " + n;
  // clang-format off
  return fmt::format(R"SH(shopt -s extglob
if ! _labctl_err=$("$BASH" -O extglob -n -- "$1" 2>&1); then
  printf '%s\n' "$_labctl_err" >&2
  exit 3
fi
kernelver=$2 arch=$3 kernel_source_dir=$4 kernel_config=$5 dkms_tree=$6 source_tree=$7
install_tree=$8 parallel_jobs=$9
unset{}
exec 3>&1
. "$1" >/dev/null 3>&-
unset -f builtin printf eval
_labctl_cr=$'\r'
for _labctl_v in{}; do
  eval "_labctl_idx=(\"\${{!${{_labctl_v}}[@]}}\")"
  for _labctl_i in "${{_labctl_idx[@]}}"; do
    eval "_labctl_val=\${{${{_labctl_v}}[$_labctl_i]}}"
    printf '%s\0%s\0%s\0' "$_labctl_v" "$_labctl_i" "${{_labctl_val%"$_labctl_cr"}}" >&3
  done
done
)SH",
                     names, names);
  // clang-format on
}

// bash's "FILE: line N: message" as "FILE:N: bash: message".
std::string bash_error(const std::string& err, const fs::path& conf) {
  std::string first = err.substr(0, err.find('\n'));
  auto at = first.find(": line ");
  if (at != std::string::npos) {
    size_t digits = at + 7;
    size_t end = first.find(": ", digits);
    if (end != std::string::npos)
      return fmt::format("{}:{}: bash rejects dkms.conf: {}", conf.string(),
                         first.substr(digits, end - digits), first.substr(end + 2));
  }
  return fmt::format("{}: bash rejects dkms.conf: {}", conf.string(),
                     first.empty() ? "(no message)" : first);
}

const std::string* element(const DkmsArrays& arrays, const std::string& name, long index) {
  auto a = arrays.find(name);
  if (a == arrays.end())
    return nullptr;
  auto v = a->second.find(index);
  return v == a->second.end() || v->second.empty() ? nullptr : &v->second;
}

std::string value(const DkmsArrays& arrays, const std::string& name, long index) {
  const std::string* v = element(arrays, name, index);
  return v ? *v : std::string();
}

// How many elements bash's ${#NAME[@]} counts.
long count(const DkmsArrays& arrays, const std::string& name) {
  auto a = arrays.find(name);
  return a == arrays.end() ? 0 : static_cast<long>(a->second.size());
}

// A relative path that stays inside the build folder.
bool stays_inside(const std::string& path) {
  if (path.starts_with("/"))
    return false;
  for (const auto& part : fs::path(path))
    if (part == "..")
      return false;
  return true;
}

bool config_set(std::string_view config, const std::string& option) {
  std::istringstream lines{std::string(config)};
  std::string line;
  while (std::getline(lines, line))
    if (line == option + "=y" || line == option + "=m")
      return true;
  return false;
}

// Why `context`'s kernel does not qualify under the BUILD_EXCLUSIVE_* element `index` (the
// plain variables are index 0, which dkms applies to every module); nullopt: it does.
Result<std::optional<std::string>> exclusion(const DkmsArrays& arrays, long index,
                                             const DkmsContext& context,
                                             std::string_view kernel_config, const fs::path& conf) {
  std::string suffix = index == 0 ? "" : fmt::format("[{}]", index);
  auto regex_rule = [&](const char* key,
                        const std::string& text) -> Result<std::optional<std::string>> {
    const std::string* pattern = element(arrays, key, index);
    if (!pattern)
      return std::optional<std::string>();
    auto matched = dkms_regex_match(*pattern, text);
    if (!matched)
      return bad_input(fmt::format("{}: {}{} '{}' is not a valid regular expression", conf.string(),
                                   key, suffix, *pattern));
    if (*matched)
      return std::optional<std::string>();
    return std::optional<std::string>(
        fmt::format("{}{} '{}' does not match {}", key, suffix, *pattern, text));
  };
  auto kernel = regex_rule("BUILD_EXCLUSIVE_KERNEL", context.kernelver);
  if (!kernel || *kernel)
    return kernel;
  const std::string ver = dkms_ver(context.kernelver);
  if (const std::string* min = element(arrays, "BUILD_EXCLUSIVE_KERNEL_MIN", index);
      min && ver < dkms_ver(*min))
    return std::optional<std::string>(fmt::format("BUILD_EXCLUSIVE_KERNEL_MIN{} '{}': {} is older",
                                                  suffix, *min, context.kernelver));
  if (const std::string* max = element(arrays, "BUILD_EXCLUSIVE_KERNEL_MAX", index);
      max && ver > dkms_ver(*max))
    return std::optional<std::string>(fmt::format("BUILD_EXCLUSIVE_KERNEL_MAX{} '{}': {} is newer",
                                                  suffix, *max, context.kernelver));
  auto arch = regex_rule("BUILD_EXCLUSIVE_ARCH", context.arch);
  if (!arch || *arch)
    return arch;
  // dkms checks the configuration only when it has one.
  if (const std::string* options = element(arrays, "BUILD_EXCLUSIVE_CONFIG", index);
      options && !kernel_config.empty()) {
    std::istringstream words(*options);
    std::string word;
    while (words >> word) {
      bool negated = word.starts_with("!");
      std::string option = negated ? word.substr(1) : word;
      if (config_set(kernel_config, option) == negated)
        return std::optional<std::string>(
            fmt::format("BUILD_EXCLUSIVE_CONFIG{} '{}': the kernel {} {}", suffix, *options,
                        negated ? "has" : "does not have", option + (negated ? "=y or =m" : "")));
    }
  }
  return std::optional<std::string>();
}

} // namespace

Result<DkmsArrays> evaluate_dkms_conf(const fs::path& conf, const DkmsContext& context,
                                      const fs::path& cwd) {
  std::string config_path;
  for (const char* f : {"include/config/auto.conf", ".config"})
    if (std::error_code ec; config_path.empty() && fs::exists(context.kernel_source_dir / f, ec))
      config_path = (context.kernel_source_dir / f).string();
  fs::path env = find_program("env");
  fs::path bash = find_program("bash");
  if (env.empty() || bash.empty())
    return environment_error(
        "reading dkms.conf needs bash and env (apt-get install bash coreutils)");
  std::vector<std::string> argv = {env.string(),
                                   "-i",
                                   "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                                   "LC_ALL=C",
                                   bash.string(),
                                   "--norc",
                                   "--noprofile",
                                   "-c",
                                   evaluation_script(),
                                   "labctl-dkms-conf",
                                   fs::absolute(conf).string(),
                                   context.kernelver,
                                   context.arch,
                                   context.kernel_source_dir.string(),
                                   config_path,
                                   context.dkms_tree.string(),
                                   context.source_tree.string(),
                                   context.install_tree.string(),
                                   std::to_string(context.parallel_jobs)};
  auto ran =
      run_capture({.argv = argv, .cwd = cwd, .die_with_parent = true}, std::chrono::seconds(60));
  if (!ran)
    return ran.error();
  if (ran->interrupted)
    return Error{ExitCode::interrupted, fmt::format("interrupted while reading {}", conf.string())};
  if (ran->timed_out)
    return bad_input(fmt::format("{}: sourcing it did not finish in 60 s", conf.string()));
  if (ran->status.code == 3)
    return bad_input(bash_error(ran->err, conf));
  if (!ran->err.empty())
    spdlog::debug("{} printed on stderr: {}", conf.string(), ran->err);
  DkmsArrays arrays;
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t nul; (nul = ran->out.find('\0', start)) != std::string::npos; start = nul + 1)
    fields.push_back(ran->out.substr(start, nul - start));
  for (size_t i = 0; i + 2 < fields.size(); i += 3) {
    char* end = nullptr;
    long index = std::strtol(fields[i + 1].c_str(), &end, 10);
    if (end == fields[i + 1].c_str() || *end != '\0')
      continue;
    arrays[fields[i]][index] = fields[i + 2];
  }
  return arrays;
}

std::string dkms_ver(std::string_view release) {
  std::string out;
  size_t i = 0;
  while (i < release.size()) {
    size_t j = i;
    bool digits = std::isdigit(static_cast<unsigned char>(release[i])) != 0;
    while (j < release.size() &&
           (std::isdigit(static_cast<unsigned char>(release[j])) != 0) == digits)
      ++j;
    std::string run(release.substr(i, j - i));
    if (digits && run.size() < 3)
      run.insert(0, 3 - run.size(), '0');
    if (!digits)
      run.erase(std::remove(run.begin(), run.end(), ' '), run.end());
    out += run;
    i = j;
  }
  return out;
}

std::optional<bool> dkms_regex_match(const std::string& pattern, const std::string& text) {
  regex_t re;
  if (::regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB) != 0)
    return std::nullopt;
  bool matched = ::regexec(&re, text.c_str(), 0, nullptr, 0) == 0;
  ::regfree(&re);
  return matched;
}

Result<DkmsRecipe> dkms_recipe(const DkmsArrays& arrays, const DkmsContext& context,
                               std::string_view kernel_config, const fs::path& conf) {
  DkmsRecipe recipe;
  recipe.package_name = value(arrays, "PACKAGE_NAME", 0);
  recipe.package_version = value(arrays, "PACKAGE_VERSION", 0);
  for (const auto& [key, v] : {std::pair{"PACKAGE_NAME", recipe.package_name},
                               std::pair{"PACKAGE_VERSION", recipe.package_version}}) {
    if (v.empty())
      return bad_input(fmt::format("{}: sets no {} (dkms needs PACKAGE_NAME, PACKAGE_VERSION and "
                                   "BUILT_MODULE_NAME)",
                                   conf.string(), key));
    if (v.find('/') != std::string::npos || v == "." || v == "..")
      return bad_input(fmt::format("{}: {} '{}' is not a folder name", conf.string(), key, v));
  }
  // The arrays may be sparse: dkms counts records up to the highest index of any of them.
  long records = 0;
  for (const char* key :
       {"BUILT_MODULE_NAME", "BUILT_MODULE_LOCATION", "DEST_MODULE_NAME", "DEST_MODULE_LOCATION"})
    if (auto a = arrays.find(key); a != arrays.end() && !a->second.empty())
      records = std::max(records, a->second.rbegin()->first + 1);
  if (records == 0)
    return bad_input(fmt::format("{}: sets no BUILT_MODULE_NAME (dkms needs PACKAGE_NAME, "
                                 "PACKAGE_VERSION and BUILT_MODULE_NAME)",
                                 conf.string()));
  bool any_rule = false;
  for (const char* key :
       {"BUILD_EXCLUSIVE_KERNEL", "BUILD_EXCLUSIVE_KERNEL_MIN", "BUILD_EXCLUSIVE_KERNEL_MAX",
        "BUILD_EXCLUSIVE_ARCH", "BUILD_EXCLUSIVE_CONFIG"})
    any_rule = any_rule || count(arrays, key) > 0;
  for (long i = 0; i < records; ++i) {
    DkmsModule m{value(arrays, "BUILT_MODULE_NAME", i), value(arrays, "BUILT_MODULE_LOCATION", i),
                 std::nullopt};
    if (m.name.empty() && records == 1)
      m.name = recipe.package_name;
    if (m.name.empty())
      return bad_input(fmt::format("{}: sets no BUILT_MODULE_NAME[{}]", conf.string(), i));
    if (m.name.ends_with(".o") || m.name.ends_with(".ko") || m.name.find('/') != std::string::npos)
      return bad_input(fmt::format(
          "{}: BUILT_MODULE_NAME[{}] '{}' must be a module name, without a folder or .o/.ko",
          conf.string(), i, m.name));
    if (!m.location.empty() && !m.location.ends_with("/"))
      m.location += "/";
    if (!stays_inside(m.location))
      return bad_input(fmt::format("{}: BUILT_MODULE_LOCATION[{}] '{}' is outside the package",
                                   conf.string(), i, m.location));
    recipe.modules.push_back(std::move(m));
  }
  if (any_rule) {
    // The plain variables (index 0) rule out the whole package; a record's own index only it.
    auto global = exclusion(arrays, 0, context, kernel_config, conf);
    if (!global)
      return global.error();
    for (long i = 0; i < records; ++i) {
      auto own = i == 0 ? global : exclusion(arrays, i, context, kernel_config, conf);
      if (!own)
        return own.error();
      recipe.modules[static_cast<size_t>(i)].excluded = *global ? *global : *own;
    }
    bool none = std::all_of(recipe.modules.begin(), recipe.modules.end(),
                            [](const DkmsModule& m) { return m.excluded.has_value(); });
    if (none)
      recipe.excluded = *global ? *global : *recipe.modules.front().excluded;
  }
  // MAKE[0] unless MAKE_MATCH[0] is set; then the last MAKE[n] whose MAKE_MATCH[n] matches.
  std::string make = element(arrays, "MAKE_MATCH", 0) ? "" : value(arrays, "MAKE", 0);
  for (long i = 0; i < count(arrays, "MAKE"); ++i) {
    const std::string* command = element(arrays, "MAKE", i);
    const std::string* match = element(arrays, "MAKE_MATCH", i);
    if (!command || !match)
      continue;
    auto matched = dkms_regex_match(*match, context.kernelver);
    if (!matched)
      return bad_input(fmt::format("{}: MAKE_MATCH[{}] '{}' is not a valid regular expression",
                                   conf.string(), i, *match));
    if (*matched)
      make = *command;
  }
  if (make.empty())
    make = fmt::format("make -C {} M={}/{}/{}/build", context.kernel_source_dir.string(),
                       context.dkms_tree.string(), recipe.package_name, recipe.package_version);
  if (config_set(kernel_config, "CONFIG_CC_IS_CLANG"))
    make += " LLVM=1";
  // dkms: ${make_command/#make/make -j$parallel_jobs KERNELRELEASE=$kernelver}
  if (make.starts_with("make"))
    make = fmt::format("make -j{} KERNELRELEASE={}{}", context.parallel_jobs, context.kernelver,
                       make.substr(4));
  recipe.make_command = make;
  for (long i = 0; i < count(arrays, "PATCH"); ++i) {
    const std::string* patch = element(arrays, "PATCH", i);
    if (!patch)
      continue;
    const std::string* match = element(arrays, "PATCH_MATCH", i);
    if (match) {
      auto matched = dkms_regex_match(*match, context.kernelver);
      if (!matched)
        return bad_input(fmt::format("{}: PATCH_MATCH[{}] '{}' is not a valid regular expression",
                                     conf.string(), i, *match));
      if (!*matched)
        continue;
    }
    if (!stays_inside(*patch))
      return bad_input(
          fmt::format("{}: PATCH[{}] '{}' is outside patches/", conf.string(), i, *patch));
    recipe.patches.push_back(*patch);
  }
  return recipe;
}

DkmsContext dkms_context(const Kernel& kernel, const fs::path& dkms_tree) {
  DkmsContext context;
  context.kernelver = kernel.version;
  context.kernel_source_dir = fs::absolute(kernel.build_dir);
  context.dkms_tree = dkms_tree;
  context.parallel_jobs = static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  return context;
}

std::string dkms_kernel_config(const fs::path& kernel_source_dir) {
  for (const char* f : {"include/config/auto.conf", ".config"})
    if (auto text = read_file(kernel_source_dir / f))
      return *text;
  return "";
}

Result<DkmsRecipe> read_dkms_recipe(const fs::path& dir, const Kernel& kernel) {
  const fs::path source = fs::absolute(dir).lexically_normal();
  TempDir scratch("labctl-dkms");
  auto files = module_source_files(source);
  if (!files)
    return files.error();
  std::error_code ec;
  for (const auto& rel : *files) {
    fs::create_directories((scratch.path() / rel).parent_path(), ec);
    fs::copy_file(source / rel, scratch.path() / rel, fs::copy_options::overwrite_existing, ec);
    if (ec)
      return environment_error(fmt::format("copy {}: {}", (source / rel).string(), ec.message()));
  }
  DkmsContext context = dkms_context(kernel, "/var/lib/dkms");
  auto arrays = evaluate_dkms_conf(source / k_dkms_conf, context, scratch.path());
  if (!arrays)
    return arrays.error();
  return dkms_recipe(*arrays, context, dkms_kernel_config(context.kernel_source_dir),
                     source / k_dkms_conf);
}

} // namespace labctl
