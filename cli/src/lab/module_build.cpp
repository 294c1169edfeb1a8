#include "lab/module_build.h"

#include "util/content_hash.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/process.h"
#include "util/unix_socket.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <sstream>
#include <cerrno>
#include <fcntl.h>
#include <poll.h>
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
  const fs::path modules = request.cache_dir / "modules";
  fs::path final_dir = modules / *key;
  // Cached or not, what a killed labctl left goes now.
  remove_stale_builds(modules);
  if (auto kos = cached_kos(final_dir)) {
    built.ko_files = *kos;
    built.cached = true;
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
    built.ko_files = *kos;
    built.cached = true;
    return built;
  }

  // Build in a private directory, then rename: readers never see a half build.
  fs::path work = request.cache_dir / "modules" / fmt::format("{}.tmp.{}", *key, ::getpid());
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
  auto files = source_files(source);
  if (!files)
    return files.error();
  for (const auto& rel : *files) {
    fs::create_directories((work / "src" / rel).parent_path(), ec);
    fs::copy_file(source / rel, work / "src" / rel, fs::copy_options::overwrite_existing, ec);
    if (ec)
      return environment_error(fmt::format("copy {}: {}", (source / rel).string(), ec.message()));
  }

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
  std::vector<std::string> argv = {"make", "-C", request.kernel.build_dir.string(),
                                   "M=" + copy.string()};
  argv.insert(argv.end(), request.make_flags.begin(), request.make_flags.end());
  argv.push_back("modules");
  std::string jobs = fmt::format("-j{}", std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  argv.insert(argv.begin() + 1, jobs);
  // make dies with labctl (even by SIGKILL), so a killed labctl does not leave it building
  // into a copy that the next labctl removes as stale.
  auto ran = run_command({.argv = argv, .merge_stderr = true, .die_with_parent = true},
                         std::chrono::minutes(10));
  copy_fd = UniqueFd();
  if (!ran)
    return ran.error();
  if (ran->interrupted) // make's whole group is gone (Process::terminate)
    return Error{ExitCode::interrupted,
                 fmt::format("interrupted while building module {}", source.string())};
  std::string output = map_compiler_output(ran->out, copy, source);
  if (ran->timed_out || !ran->status.success())
    return failure(fmt::format("module {} did not compile ({}):\n{}", source.string(),
                               ran->timed_out ? "timed out" : ran->status.describe(), output));
  std::string stamp;
  for (const auto& entry : fs::recursive_directory_iterator(work / "src")) {
    if (entry.path().extension() != ".ko")
      continue;
    auto bytes = read_file(entry.path());
    if (!bytes)
      return environment_error(bytes.error().message);
    stamp += stamp_line(fs::relative(entry.path(), work / "src"), *bytes);
  }
  if (stamp.empty())
    return failure(fmt::format("module {}: make succeeded but produced no .ko:\n{}",
                               source.string(), output));
  if (auto s = write_file_atomic(work / k_stamp, stamp); !s)
    return s.error();
  // When another labctl finished the same build first, the copy is simply dropped.
  if (!cached_kos(final_dir)) {
    fs::remove_all(final_dir, ec); // a stale, incomplete entry
    fs::rename(work, final_dir, ec);
  }
  auto kos = cached_kos(final_dir);
  if (!kos)
    return environment_error(fmt::format("build cache {} is unusable", final_dir.string()));
  built.ko_files = *kos;
  // A signal that came as make finished still stops the run before anything boots.
  if (interrupted())
    return Error{ExitCode::interrupted,
                 fmt::format("interrupted after building module {}", source.string())};
  return built;
}

} // namespace labctl
