#include "lab/module_build.h"

#include "util/content_hash.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/unix_socket.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>
#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace labctl {

namespace {

// Lists the built .ko files with their sizes and hashes; written last, so its presence
// means the build finished.
constexpr const char* k_stamp = "labctl-build.ok";

// Files kbuild writes into M=; they never belong to the sources.
bool is_build_product(const fs::path& p) {
  std::string name = p.filename().string();
  static const char* suffixes[] = {".o", ".ko", ".mod", ".mod.c", ".cmd", ".order", ".symvers",
                                   ".a", ".dwo", ".tmp"};
  for (const char* s : suffixes)
    if (name.ends_with(s))
      return true;
  return name == ".tmp_versions" || name == ".cache.mk";
}

Result<std::vector<fs::path>> source_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec)
    return bad_input(fmt::format("module folder {}: {}", dir.string(), ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec)
      return bad_input(fmt::format("module folder {}: {}", dir.string(), ec.message()));
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (it->is_directory() && (name == ".git" || name == ".tmp_versions")) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && !is_build_product(p))
      files.push_back(fs::relative(p, dir));
  }
  std::sort(files.begin(), files.end());
  return files;
}

// One stamp line: the .ko's path relative to src/, its size and content hash, so that a
// truncated or altered cache entry is noticed and built again.
std::string stamp_line(const fs::path& relative, std::string_view bytes) {
  return fmt::format("{}\t{}\t{}\n", relative.string(), bytes.size(), hash_hex(bytes));
}

// Reads the stamp of a finished build: the .ko files, each still the size and content
// it had when the build finished (and an ELF file).
std::optional<std::vector<fs::path>> cached_kos(const fs::path& dir) {
  auto stamp = read_file(dir / k_stamp);
  if (!stamp)
    return std::nullopt;
  std::vector<fs::path> kos;
  std::istringstream lines(*stamp);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty())
      continue;
    auto tab = line.find('\t');
    if (tab == std::string::npos)
      return std::nullopt; // an older stamp without sizes and hashes: build again
    fs::path ko = dir / "src" / line.substr(0, tab);
    auto bytes = read_file(ko);
    if (!bytes || bytes->compare(0, 4, "\x7f" "ELF") != 0 ||
        stamp_line(line.substr(0, tab), *bytes) != line + "\n") {
      spdlog::debug("cached module {} is missing, truncated or changed; building again",
                    ko.string());
      return std::nullopt;
    }
    kos.push_back(ko);
  }
  if (kos.empty())
    return std::nullopt;
  return kos;
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

Result<std::string> module_cache_key(const ModuleBuildRequest& request) {
  ContentHash h;
  h.add("labctl-module-build-v1");
  auto files = source_files(request.source_dir);
  if (!files)
    return files.error();
  for (const auto& rel : *files) {
    h.add(rel.string());
    if (auto s = h.add_file(request.source_dir / rel); !s)
      return s.error();
  }
  const fs::path& build = request.kernel.build_dir;
  h.add(fs::absolute(build).string());
  h.add(request.kernel.version);
  // The kernel's configuration and exported symbols decide what a module compiles to.
  for (const char* f : {".config", "Module.symvers", "include/config/kernel.release"}) {
    std::error_code ec;
    if (fs::exists(build / f, ec)) {
      h.add(f);
      if (auto s = h.add_file(build / f); !s)
        return s.error();
    }
  }
  for (const auto& flag : request.make_flags)
    h.add(flag);
  return h.hex();
}

Result<BuiltModule> build_module(const ModuleBuildRequest& request) {
  std::error_code ec;
  const fs::path source = fs::absolute(request.source_dir).lexically_normal();
  if (!fs::is_directory(source, ec))
    return bad_input(fmt::format("module folder {} does not exist", source.string()));
  if (!fs::exists(source / "Kbuild", ec) && !fs::exists(source / "Makefile", ec))
    return bad_input(fmt::format("module folder {} has no Kbuild or Makefile", source.string()));
  if (!fs::exists(request.kernel.build_dir / "Makefile", ec))
    return environment_error(fmt::format(
        "kernel headers {} are missing or incomplete (install: apt-get install linux-headers-{})",
        request.kernel.build_dir.string(),
        request.kernel.version.empty() ? "amd64" : request.kernel.version));

  auto key = module_cache_key({source, request.kernel, request.cache_dir, request.make_flags});
  if (!key)
    return key.error();
  BuiltModule built{source, {}, false, *key};
  fs::path final_dir = request.cache_dir / "modules" / *key;
  if (auto kos = cached_kos(final_dir)) {
    built.ko_files = *kos;
    built.cached = true;
    spdlog::debug("build {}: cached in {}", source.string(), final_dir.string());
    return built;
  }

  // One build per key at a time, across threads and processes: the others wait for it and
  // then find it in the cache.
  fs::create_directories(request.cache_dir / "modules", ec);
  UniqueFd lock(::open((request.cache_dir / "modules" / (*key + ".lock")).c_str(),
                       O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (lock.valid())
    while (::flock(lock.get(), LOCK_EX) != 0 && errno == EINTR) {
    }
  if (auto kos = cached_kos(final_dir)) {
    built.ko_files = *kos;
    built.cached = true;
    return built;
  }

  // Build in a private directory, then rename: readers never see a half build.
  fs::path work = request.cache_dir / "modules" / fmt::format("{}.tmp.{}", *key, ::getpid());
  fs::remove_all(work, ec);
  fs::create_directories(work / "src", ec);
  if (ec)
    return environment_error(
        fmt::format("cannot create build directory {}: {}", work.string(), ec.message()));
  auto files = source_files(source);
  if (!files)
    return files.error();
  for (const auto& rel : *files) {
    fs::create_directories((work / "src" / rel).parent_path(), ec);
    fs::copy_file(source / rel, work / "src" / rel, fs::copy_options::overwrite_existing, ec);
    if (ec)
      return environment_error(fmt::format("copy {}: {}", (source / rel).string(), ec.message()));
  }

  std::vector<std::string> argv = {"make", "-C", request.kernel.build_dir.string(),
                                   "M=" + (work / "src").string()};
  argv.insert(argv.end(), request.make_flags.begin(), request.make_flags.end());
  argv.push_back("modules");
  std::string jobs = fmt::format("-j{}", std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  argv.insert(argv.begin() + 1, jobs);
  auto ran = run_command({.argv = argv, .merge_stderr = true}, std::chrono::minutes(10));
  if (!ran) {
    fs::remove_all(work, ec);
    return ran.error();
  }
  std::string output = map_compiler_output(ran->out, work / "src", source);
  if (ran->timed_out || !ran->status.success()) {
    fs::remove_all(work, ec);
    return failure(fmt::format("module {} did not compile ({}):\n{}", source.string(),
                               ran->timed_out ? "timed out" : ran->status.describe(), output));
  }
  std::string stamp;
  for (const auto& entry : fs::recursive_directory_iterator(work / "src")) {
    if (entry.path().extension() != ".ko")
      continue;
    auto bytes = read_file(entry.path());
    if (!bytes) {
      fs::remove_all(work, ec);
      return environment_error(bytes.error().message);
    }
    stamp += stamp_line(fs::relative(entry.path(), work / "src"), *bytes);
  }
  if (stamp.empty()) {
    fs::remove_all(work, ec);
    return failure(fmt::format("module {}: make succeeded but produced no .ko:\n{}",
                               source.string(), output));
  }
  if (auto s = write_file_atomic(work / k_stamp, stamp); !s)
    return s.error();
  if (cached_kos(final_dir)) {
    fs::remove_all(work, ec); // another labctl finished the same build first
  } else {
    fs::remove_all(final_dir, ec); // a stale, incomplete entry
    fs::rename(work, final_dir, ec);
    if (ec)
      fs::remove_all(work, ec);
  }
  auto kos = cached_kos(final_dir);
  if (!kos)
    return environment_error(fmt::format("build cache {} is unusable", final_dir.string()));
  built.ko_files = *kos;
  return built;
}

} // namespace labctl
