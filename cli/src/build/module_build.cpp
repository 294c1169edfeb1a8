#include "build/module_build.h"

#include "build/dkms_conf.h"
#include "build/module_cache.h"
#include "config/scenario.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/process.h"
#include "util/unix_socket.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sstream>
#include <sys/file.h>
#include <unistd.h>

namespace labctl {

namespace {

// Whether make and the shell lines of kbuild take `path` as one literal word: no blank that
// splits it, no `$` that expands it, no `:` (kbuild's separator of M= folders), no shell
// metacharacter.
bool make_safe(const std::string& path) {
  return std::all_of(path.begin(), path.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '+';
  });
}

// Take the per-key build lock, waking on an interrupt instead of waiting for the holder.
Status lock_build(int fd, const fs::path& lock_file) {
  bool said = false;
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
      return ok_status();
    if (errno != EWOULDBLOCK && errno != EINTR)
      return environment_error(
          fmt::format("cannot lock {}: {}", lock_file.string(), std::strerror(errno)));
    if (interrupted())
      return Error{ExitCode::interrupted, "interrupted while waiting for another build"};
    if (!said)
      spdlog::debug("waiting for another build holding {}", lock_file.string());
    said = true;
    pollfd stop = {interrupt_fd(), POLLIN, 0};
    ::poll(&stop, stop.fd >= 0 ? 1 : 0, 100);
  }
}

// Build copies `<key>.tmp.<pid>` whose key nobody holds the lock of belong to a labctl that
// died (kill -9, a crash): a live builder holds `<key>.lock` for as long as its copy exists.
void remove_stale_builds(const fs::path& modules) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(modules, ec)) {
    std::string name = entry.path().filename().string();
    auto at = name.find(".tmp.");
    if (at == std::string::npos || at == 0 ||
        name.find_first_not_of("0123456789", at + 5) != std::string::npos ||
        !entry.is_directory(ec))
      continue;
    fs::path lock_file = modules / (name.substr(0, at) + ".lock");
    UniqueFd lock(::open(lock_file.c_str(), O_RDWR | O_CLOEXEC));
    if (lock.valid() && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0)
      continue; // being built right now
    spdlog::debug("removing {}, left by a labctl that did not finish", entry.path().string());
    fs::remove_all(entry.path(), ec);
  }
}

} // namespace

std::string map_compiler_output(const std::string& output, const fs::path& copy,
                                const fs::path& source) {
  std::string from = copy.string();
  std::string to = source.string();
  std::string mapped;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("Entering directory") != std::string::npos ||
        line.find("Leaving directory") != std::string::npos)
      continue;
    size_t pos = 0;
    while ((pos = line.find(from, pos)) != std::string::npos) {
      line.replace(pos, from.size(), to);
      pos += to.size();
    }
    mapped += line + "\n";
  }
  return mapped;
}

std::string user_source_file(const std::string& compiled, const fs::path& ko,
                             const fs::path& source) {
  // The cache entry's name (the key): the folder holding src/ under modules/.
  std::vector<std::string> ko_parts;
  for (const auto& part : ko)
    ko_parts.push_back(part.string());
  std::string key;
  for (size_t i = 0; i + 2 < ko_parts.size(); ++i)
    if (ko_parts[i] == "modules" && ko_parts[i + 2] == "src")
      key = ko_parts[i + 1];
  std::vector<std::string> parts;
  for (const auto& part : fs::path(compiled))
    parts.push_back(part.string());
  auto rest_from = [&](size_t first) -> std::string {
    if (first >= parts.size())
      return compiled;
    fs::path rest;
    for (size_t i = first; i < parts.size(); ++i)
      rest /= parts[i];
    return (source / rest).lexically_normal().string();
  };
  auto is_number = [](const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  // "/", "proc", pid, "fd", n, rest...
  if (parts.size() > 5 && parts[0] == "/" && parts[1] == "proc" && is_number(parts[2]) &&
      parts[3] == "fd" && is_number(parts[4]))
    return rest_from(5);
  if (key.empty())
    return compiled;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (!p.starts_with(key + ".tmp.") || !is_number(p.substr(key.size() + 5)))
      continue;
    if (i + 1 < parts.size() && parts[i + 1] == "src")
      return rest_from(i + 2);
    if (i + 4 < parts.size() && parts[i + 1] == "dkms" && parts[i + 4] == "build")
      return rest_from(i + 5);
  }
  return compiled;
}

std::vector<std::string> parse_modules_order(std::string_view text) {
  std::vector<std::string> order;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r'))
      line.pop_back();
    if (!line.empty())
      order.push_back(line);
  }
  return order;
}

std::string kbuild_diagnostics(const std::string& output) {
  std::string kept;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    // kbuild's quiet progress: two blanks, an upper-case tag, optionally [M], a path.
    bool progress = line.size() > 2 && line.starts_with("  ") &&
                    std::isupper(static_cast<unsigned char>(line[2]));
    if (progress) {
      size_t tag_end = line.find(' ', 2);
      progress = tag_end != std::string::npos &&
                 std::all_of(line.begin() + 2, line.begin() + static_cast<long>(tag_end),
                             [](unsigned char c) {
                               return std::isupper(c) || std::isdigit(c) || c == '_';
                             });
    }
    if (progress || line.starts_with("Skipping BTF generation") || line.empty())
      continue;
    kept += line + "\n";
  }
  return kept;
}

std::string compiler_messages(const std::string& output) {
  static const std::vector<std::string> kinds = {
      ": warning:", ": error:",       ": note:",       "WARNING:",
      "ERROR:",     ": fatal error:", ": In function", "*** "};
  std::string kept;
  std::istringstream lines(output);
  std::string line;
  bool in_message = false; // gcc's source excerpt lines ("  119 |   code", "      |   ^~")
  while (std::getline(lines, line)) {
    bool message =
        line.starts_with("In file included from") ||
        (in_message && line.starts_with("                 from ")) || line.starts_with("cc1: ") ||
        std::any_of(kinds.begin(), kinds.end(),
                    [&](const std::string& k) { return line.find(k) != std::string::npos; });
    bool excerpt = false;
    if (in_message && !message) {
      size_t bar = line.find(" | ");
      if (bar == std::string::npos && line.ends_with(" |"))
        bar = line.size() - 2;
      excerpt = bar != std::string::npos && line.find_first_not_of(" 0123456789+") >= bar;
    }
    if (message || excerpt)
      kept += line + "\n";
    in_message = message || excerpt;
  }
  return kept;
}

std::string lead_with_first_error(const std::string& diagnostics, const fs::path& source) {
  std::istringstream lines(diagnostics);
  std::string line, first_own, first_any;
  // The user's tree: the folder and what beside it it includes (../include/x.h).
  const std::string own = source.parent_path().string() + "/";
  while (std::getline(lines, line)) {
    if (line.find("error:") == std::string::npos && line.find("ERROR:") == std::string::npos)
      continue;
    if (first_any.empty())
      first_any = line;
    // The user's file: under the folder, or beside it (../include) but never the kernel's.
    if (line.starts_with(own)) {
      first_own = line;
      break;
    }
  }
  const std::string& lead = first_own.empty() ? first_any : first_own;
  if (lead.empty())
    return diagnostics;
  return lead + "\n\n" + diagnostics;
}

namespace {

// The private copy of the module's sources that make builds in (work/src).
Status copy_sources(const fs::path& source, const fs::path& work) {
  std::error_code ec;
  fs::create_directories(work / "src", ec);
  if (ec)
    return environment_error(
        fmt::format("cannot create build directory {}: {}", work.string(), ec.message()));
  auto files = module_source_files(source);
  if (!files)
    return files.error();
  for (const auto& rel : *files) {
    fs::create_directories((work / "src" / rel).parent_path(), ec);
    fs::copy_file(source / rel, work / "src" / rel, fs::copy_options::overwrite_existing, ec);
    if (ec)
      return environment_error(fmt::format("copy {}: {}", (source / rel).string(), ec.message()));
  }
  return ok_status();
}

// The other folders' Module.symvers copied into work/src (where make sees them as `at`, a
// make-safe name of that folder): KBUILD_EXTRA_SYMBOLS's value, "" when there are none.
Result<std::string> copy_extra_symbols(const ModuleBuildRequest& request, const fs::path& work,
                                       const fs::path& at) {
  std::error_code ec;
  std::string extra;
  for (size_t i = 0; i < request.extra_symbols.size(); ++i) {
    std::string name = fmt::format(".labctl-extra-{}.symvers", i);
    fs::copy_file(request.extra_symbols[i], work / "src" / name,
                  fs::copy_options::overwrite_existing, ec);
    if (ec)
      return environment_error(
          fmt::format("copy {}: {}", request.extra_symbols[i].string(), ec.message()));
    extra += (extra.empty() ? "" : " ") + (at / name).string();
  }
  return extra;
}

// make's command line for the copy (named `copy`, a make-safe name of work/src): the kernel's
// build tree, M=, the request's flags, and the other folders' Module.symvers (copied into
// work/src, so their paths are as make-safe as M=).
Result<std::vector<std::string>> make_argv(const ModuleBuildRequest& request, const fs::path& work,
                                           const fs::path& copy) {
  std::string jobs = fmt::format("-j{}", std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  std::vector<std::string> argv = {
      "make", jobs, "-C", fs::absolute(request.kernel.build_dir).string(), "M=" + copy.string()};
  argv.insert(argv.end(), request.make_flags.begin(), request.make_flags.end());
  auto extra = copy_extra_symbols(request, work, copy);
  if (!extra)
    return extra.error();
  if (!extra->empty())
    argv.push_back("KBUILD_EXTRA_SYMBOLS=" + *extra);
  argv.push_back("modules");
  return argv;
}

// The .ko files a finished build made under work/src (relative to it), in kbuild's
// modules.order, the order they load in (a bus before the drivers on it); any .ko it does
// not name follows in name order.
std::vector<fs::path> built_kos(const fs::path& work, const fs::path& copy) {
  std::vector<fs::path> kos;
  auto order = read_file(work / "src" / "modules.order");
  for (const auto& entry : parse_modules_order(order ? *order : "")) {
    fs::path ko = entry;
    if (ko.extension() == ".o")
      ko.replace_extension(".ko");
    for (const auto& prefix : {copy.string(), (work / "src").string()})
      if (ko.string().starts_with(prefix + "/"))
        ko = fs::path(ko.string().substr(prefix.size() + 1));
    if (ko.is_absolute())
      continue;
    if (std::find(kos.begin(), kos.end(), ko) == kos.end())
      kos.push_back(ko);
  }
  std::vector<fs::path> unordered;
  for (const auto& entry : fs::recursive_directory_iterator(work / "src"))
    if (entry.path().extension() == ".ko") {
      fs::path rel = fs::relative(entry.path(), work / "src");
      if (std::find(kos.begin(), kos.end(), rel) == kos.end())
        unordered.push_back(rel);
    }
  std::sort(unordered.begin(), unordered.end());
  kos.insert(kos.end(), unordered.begin(), unordered.end());
  return kos;
}

// Write a finished build's cache files into work/: the input manifest, the warnings, and
// last the stamp (the .ko files with their sizes and hashes), whose presence means the
// entry is complete. `copy_names` are the names make knew work/src by.
Status write_entry(const fs::path& work, const std::vector<fs::path>& kos,
                   const std::vector<std::string>& copy_names, const fs::path& kernel_build,
                   const std::string& diagnostics, const fs::path& source,
                   const std::string& output) {
  std::string stamp;
  for (const auto& rel : kos) {
    auto bytes = read_file(work / "src" / rel);
    if (!bytes)
      continue; // named by modules.order but not built (make would have failed)
    stamp += stamp_line(rel, *bytes);
  }
  if (stamp.empty())
    return failure(
        fmt::format("module {}: make succeeded but produced no .ko:\n{}", source.string(), output));
  auto inputs = record_inputs(work / "src", copy_names, kernel_build);
  if (!inputs)
    return inputs.error();
  if (auto s = write_file_atomic(work / k_inputs, *inputs); !s)
    return s.error();
  if (auto s = write_file_atomic(work / k_warnings, diagnostics); !s)
    return s.error();
  if (auto s = write_file_atomic(work / k_stamp, stamp); !s)
    return s.error();
  return ok_status();
}

// What make said about a build that succeeded, with the copy's paths mapped back to the
// user's folder, and the name make knew the copy by.
struct MakeOutput {
  fs::path copy;
  std::string output;      // everything make printed
  std::string diagnostics; // its warnings and errors
  // Every name make knew the copy by (the .cmd files name its files by these).
  std::vector<std::string> copy_names;
};

// Build the copy in work/src with make, started in the user's folder.
Result<MakeOutput> run_make(const ModuleBuildRequest& request, const fs::path& source,
                            const fs::path& work) {
  // make splits M= at blanks and expands `$(...)` in it, and kbuild pastes it unquoted into
  // shell lines: a cache path that is not one plain word reaches make as a name of the
  // same folder that is (the open folder seen through /proc/<labctl>/fd/<n>).
  fs::path copy = work / "src";
  UniqueFd copy_fd;
  if (!make_safe(copy.string())) {
    copy_fd = UniqueFd(::open(copy.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!copy_fd.valid())
      return environment_error(
          fmt::format("cannot open build directory {}: {}", copy.string(), std::strerror(errno)));
    copy = fmt::format("/proc/{}/fd/{}", ::getpid(), copy_fd.get());
    spdlog::debug("build copy {} is handed to make as {}", (work / "src").string(), copy.string());
  }
  auto argv = make_argv(request, work, copy);
  if (!argv)
    return argv.error();
  // make dies with labctl (even by SIGKILL), so a killed labctl does not leave it building
  // into a copy that the next labctl removes as stale.
  // make starts in the user's folder with its PWD, as when the user types `make` there:
  // a Makefile's $(PWD) names the real folder (headers beside it are read in place, and
  // the compiler names them by their real paths) while M= puts every output in the copy.
  auto ran = run_capture({.argv = *argv,
                          .cwd = source,
                          .env = {{"PWD", source.string()}},
                          .merge_stderr = true,
                          .die_with_parent = true},
                         std::chrono::minutes(10));
  copy_fd = UniqueFd();
  if (!ran)
    return ran.error();
  if (ran->interrupted) // make's whole group is gone (Process::terminate)
    return Error{ExitCode::interrupted,
                 fmt::format("interrupted while building module {}", source.string())};
  std::string output = map_compiler_output(ran->out, copy, source);
  if (copy != work / "src")
    output = map_compiler_output(output, work / "src", source);
  std::string diagnostics = kbuild_diagnostics(output);
  if (ran->timed_out || !ran->status.success())
    return failure(fmt::format("module {} did not compile ({}):\n{}", source.string(),
                               ran->timed_out ? "timed out" : ran->status.describe(),
                               lead_with_first_error(diagnostics, source)));
  return MakeOutput{
      copy, std::move(output), std::move(diagnostics), {copy.string(), (work / "src").string()}};
}

// The .ko files a DKMS build made: BUILT_MODULE_LOCATION[n]BUILT_MODULE_NAME[n].ko of each
// record its kernel qualifies for, in index order; a missing one fails the build, as in dkms.
Result<std::vector<fs::path>> dkms_kos(const DkmsRecipe& recipe, const fs::path& work,
                                       const fs::path& source, const std::string& kernelver) {
  std::vector<fs::path> kos;
  std::error_code ec;
  for (size_t i = 0; i < recipe.modules.size(); ++i) {
    const auto& m = recipe.modules[i];
    if (m.excluded)
      continue;
    if (!fs::is_regular_file(work / "src" / m.ko(), ec))
      return failure(
          fmt::format("module {}: the build for {} made no {} (BUILT_MODULE_NAME[{}] and "
                      "BUILT_MODULE_LOCATION[{}] of its dkms.conf name it)",
                      source.string(), kernelver, m.ko().string(), i, i));
    kos.push_back(m.ko());
  }
  return kos;
}

// Build the copy in work/src the way `dkms build` does: the copy is seen as dkms's build
// folder $dkms_tree/<name>/<version>/build (a link to work/src under work/dkms), dkms.conf
// is evaluated there for it, its patches applied and its make command run there, with
// dkms's variables set in the shell that runs it and PWD the build folder.
Result<MakeOutput> run_dkms_build(const ModuleBuildRequest& request, const fs::path& source,
                                  const fs::path& work, const DkmsRecipe& keyed) {
  std::error_code ec;
  fs::path work_name = work;
  UniqueFd work_fd;
  if (!make_safe(work.string())) {
    work_fd = UniqueFd(::open(work.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!work_fd.valid())
      return environment_error(
          fmt::format("cannot open build directory {}: {}", work.string(), std::strerror(errno)));
    work_name = fmt::format("/proc/{}/fd/{}", ::getpid(), work_fd.get());
  }
  const fs::path tree_rel = fs::path("dkms") / keyed.package_name / keyed.package_version;
  fs::create_directories(work / tree_rel, ec);
  fs::create_directory_symlink("../../../src", work / tree_rel / "build", ec);
  if (ec)
    return environment_error(
        fmt::format("cannot create {}: {}", (work / tree_rel / "build").string(), ec.message()));
  const fs::path build = work_name / tree_rel / "build";
  DkmsContext context = dkms_context(request.kernel, work_name / "dkms");
  const std::string config = dkms_kernel_config(context.kernel_source_dir);
  auto arrays = evaluate_dkms_conf(source / k_dkms_conf, context, build);
  if (!arrays)
    return arrays.error();
  auto recipe = dkms_recipe(*arrays, context, config, source / k_dkms_conf);
  if (!recipe)
    return recipe.error();
  const std::vector<std::string> names = {build.string(), (work / tree_rel / "build").string(),
                                          (work_name / "src").string(), (work / "src").string()};
  auto mapped = [&](std::string text) {
    for (const auto& name : names)
      text = map_compiler_output(text, name, source);
    return text;
  };
  for (const auto& patch : recipe->patches) {
    if (!fs::is_regular_file(work / "src" / "patches" / patch, ec))
      return bad_input(fmt::format("{}: PATCH '{}' is not in {}", (source / k_dkms_conf).string(),
                                   patch, (source / "patches").string()));
    auto ran = run_capture({.argv = {"patch", "-p1", "-i", "patches/" + patch},
                            .cwd = build,
                            .merge_stderr = true,
                            .die_with_parent = true},
                           std::chrono::minutes(1));
    if (!ran)
      return ran.error();
    if (!ran->status.success())
      return failure(fmt::format("module {}: patch {} does not apply ({}):\n{}", source.string(),
                                 patch, ran->status.describe(), mapped(ran->out)));
  }
  std::vector<std::pair<std::string, std::string>> env = {{"PWD", build.string()}};
  auto extra = copy_extra_symbols(request, work, build);
  if (!extra)
    return extra.error();
  if (!extra->empty()) // kbuild reads it from the environment as from the command line
    env.emplace_back("KBUILD_EXTRA_SYMBOLS", *extra);
  // dkms eval's the command in a subshell of its own bash, where these are shell variables.
  const std::string script =
      "kernelver=$2 arch=$3 kernel_source_dir=$4 dkms_tree=$5 source_tree=$6 install_tree=$7 "
      "parallel_jobs=$8; eval \"$1\"";
  fs::path bash = find_program("bash");
  if (bash.empty())
    return environment_error("building a DKMS folder needs bash");
  auto ran =
      run_capture({.argv = {bash.string(), "--norc", "--noprofile", "-c", script,
                            "labctl-dkms-make", recipe->make_command, context.kernelver,
                            context.arch, context.kernel_source_dir.string(),
                            context.dkms_tree.string(), context.source_tree.string(),
                            context.install_tree.string(), std::to_string(context.parallel_jobs)},
                   .cwd = build,
                   .env = env,
                   .merge_stderr = true,
                   .die_with_parent = true},
                  std::chrono::minutes(10));
  if (!ran)
    return ran.error();
  if (ran->interrupted)
    return Error{ExitCode::interrupted,
                 fmt::format("interrupted while building module {}", source.string())};
  std::string output = mapped(ran->out);
  // A package's make command may be verbose (V=1) or its own Makefile chatty: only the
  // compiler's and modpost's messages are its diagnostics.
  std::string diagnostics = compiler_messages(output);
  if (ran->timed_out || !ran->status.success())
    return failure(fmt::format("module {} ({} {}) did not compile ({}):\n{}", source.string(),
                               recipe->package_name, recipe->package_version,
                               ran->timed_out ? "timed out" : ran->status.describe(),
                               lead_with_first_error(diagnostics, source)));
  return MakeOutput{build, std::move(output), std::move(diagnostics), names};
}

} // namespace

Result<BuiltModule> build_module(const ModuleBuildRequest& request) {
  std::error_code ec;
  const fs::path source = fs::absolute(request.source_dir).lexically_normal();
  if (!fs::is_directory(source, ec))
    return bad_input(fmt::format("module folder {} does not exist", source.string()));
  if (!is_module_folder(source))
    return bad_input(
        fmt::format("module folder {} has no Kbuild, Makefile or dkms.conf", source.string()));
  if (!fs::exists(request.kernel.build_dir / "Makefile", ec))
    return environment_error(fmt::format(
        "kernel headers {} are missing or incomplete (install: apt-get install linux-headers-{})",
        request.kernel.build_dir.string(),
        request.kernel.version.empty() ? "amd64" : request.kernel.version));

  // A DKMS folder: what dkms would do for this kernel, and whether it would do anything.
  std::optional<DkmsRecipe> recipe;
  ModuleBuildRequest keyed{source, request.kernel, request.cache_dir, request.make_flags,
                           request.extra_symbols};
  if (fs::exists(source / k_dkms_conf, ec)) {
    auto read = read_dkms_recipe(source, request.kernel);
    if (!read)
      return read.error();
    recipe = std::move(*read);
    if (recipe->excluded) {
      BuiltModule excluded{source, {}, false, "", {}, {}};
      excluded.package_name = recipe->package_name;
      excluded.package_version = recipe->package_version;
      excluded.excluded = recipe->excluded;
      return excluded;
    }
    // dkms.conf and patches/ are among the folder's files; what dkms.conf made of them for
    // this kernel (which could read more than the folder) is part of the key too.
    keyed.make_flags.push_back("dkms-make=" + recipe->make_command);
    for (const auto& patch : recipe->patches)
      keyed.make_flags.push_back("dkms-patch=" + patch);
    for (const auto& m : recipe->modules)
      keyed.make_flags.push_back("dkms-module=" + m.ko().string() +
                                 (m.excluded ? " excluded" : ""));
  }
  auto key = module_cache_key(keyed);
  if (!key)
    return key.error();
  BuiltModule built{source, {}, false, *key, {}, {}};
  if (recipe) {
    built.package_name = recipe->package_name;
    built.package_version = recipe->package_version;
  }
  const fs::path modules = request.cache_dir / "modules";
  fs::path final_dir = modules / *key;
  // Cached or not, what a killed labctl left goes now.
  remove_stale_builds(modules);
  // What a finished cache entry gives besides its .ko files.
  auto answer_from = [&](const std::vector<fs::path>& kos, bool cached) {
    built.ko_files = kos;
    built.cached = cached;
    std::error_code e;
    if (fs::exists(final_dir / "src" / "Module.symvers", e))
      built.symvers = final_dir / "src" / "Module.symvers";
    auto warnings = read_file(final_dir / k_warnings);
    built.warnings = warnings ? *warnings : "";
  };
  if (auto kos = cached_kos(final_dir)) {
    answer_from(*kos, true);
    spdlog::debug("build {}: cached in {}", source.string(), final_dir.string());
    return built;
  }

  // One build per key at a time, across threads and processes: the others wait for it and
  // then find it in the cache.
  fs::create_directories(modules, ec);
  const fs::path lock_file = modules / (*key + ".lock");
  UniqueFd lock(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666));
  if (lock.valid())
    if (auto locked = lock_build(lock.get(), lock_file); !locked)
      return locked.error();
  if (auto kos = cached_kos(final_dir)) {
    answer_from(*kos, true);
    return built;
  }

  // Build in a private directory, then rename: readers never see a half build.
  // Absolute: make starts in the user's folder, not here.
  fs::path work =
      fs::absolute(request.cache_dir / "modules" / fmt::format("{}.tmp.{}", *key, ::getpid()));
  fs::remove_all(work, ec);
  // However this function returns, the private copy does not stay behind (after the rename
  // into the cache there is nothing left to remove).
  struct RemoveOnReturn {
    fs::path dir;
    ~RemoveOnReturn() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{work};
  fs::create_directories(work / "src", ec);
  if (ec)
    return environment_error(
        fmt::format("cannot create build directory {}: {}", work.string(), ec.message()));
  if (auto copied = copy_sources(source, work); !copied)
    return copied.error();
  auto made =
      recipe ? run_dkms_build(request, source, work, *recipe) : run_make(request, source, work);
  if (!made)
    return made.error();
  const auto& [copy, output, diagnostics, copy_names] = *made;
  std::vector<fs::path> kos;
  if (recipe) {
    auto made_kos = dkms_kos(*recipe, work, source, request.kernel.version);
    if (!made_kos)
      return made_kos.error();
    kos = std::move(*made_kos);
  } else {
    kos = built_kos(work, copy);
  }
  if (auto written =
          write_entry(work, kos, copy_names, request.kernel.build_dir, diagnostics, source, output);
      !written)
    return written.error();
  // When another labctl finished the same build first, the copy is simply dropped.
  if (!cached_kos(final_dir)) {
    fs::remove_all(final_dir, ec); // a stale, incomplete entry
    fs::rename(work, final_dir, ec);
  }
  auto cached = cached_kos(final_dir);
  if (!cached)
    return environment_error(fmt::format("build cache {} is unusable", final_dir.string()));
  answer_from(*cached, false);
  // A signal that came as make finished still stops the run before anything boots.
  if (interrupted())
    return Error{ExitCode::interrupted,
                 fmt::format("interrupted after building module {}", source.string())};
  return built;
}

} // namespace labctl
