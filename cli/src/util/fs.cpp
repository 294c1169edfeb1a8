#include "util/fs.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace labctl {

util::Result<std::string> read_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return util::errno_failure(path.string());
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return util::Failure{fmt::format("{}: {}", path.string(), std::strerror(err)), err};
    }
    if (n == 0)
      break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

namespace {

util::Failure write_error(const fs::path& path, int err) {
  return util::Failure{fmt::format("cannot write {}: {}", path.string(), std::strerror(err)), err};
}

// Write `data` to an open fd and close it; the error names `path`.
util::Status write_and_close(int fd, const fs::path& path, std::string_view data) {
  int err = write_all(fd, data);
  if (::close(fd) != 0 && err == 0)
    err = errno;
  if (err != 0)
    return write_error(path, err);
  return util::ok_status();
}

std::atomic<unsigned> g_temp_counter{0};

// Remove the entry `name` of the folder `parent` and, if it is a
// folder, everything below it; no symlink is followed (openat with O_NOFOLLOW).
int remove_at(int parent, const char* name) {
  if (::unlinkat(parent, name, 0) == 0 || errno == ENOENT)
    return 0;
  int unlink_err = errno;
  if (unlink_err != EISDIR && unlink_err != EPERM)
    return unlink_err;
  int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOTDIR || errno == ELOOP ? unlink_err : errno;
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    int err = errno;
    ::close(fd);
    return err;
  }
  int err = 0;
  while (err == 0) {
    errno = 0;
    dirent* entry = ::readdir(dir);
    if (!entry) {
      err = errno;
      break;
    }
    if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0)
      continue;
    err = remove_at(::dirfd(dir), entry->d_name);
  }
  ::closedir(dir);
  if (err == 0 && ::unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
    err = errno;
  return err;
}

// Whether the symlink chain starting at `path` passes through /proc (/dev/stdout, /dev/fd/N,
// /proc/self/fd/N): those links name an open file, whose offset and append mode belong to
// the shell that opened it, so it is written through, never replaced. Else the path the
// chain ends at (it may not exist yet).
std::optional<fs::path> resolve_links(const fs::path& path) {
  fs::path p = path;
  for (int hops = 0; hops < 40; ++hops) {
    std::error_code ec;
    fs::path dir = fs::weakly_canonical(p.parent_path().empty() ? "." : p.parent_path(), ec);
    if (!ec)
      p = dir / p.filename();
    if (p.string().starts_with("/proc/"))
      return std::nullopt;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode))
      return p;
    fs::path target = fs::read_symlink(p, ec);
    if (ec)
      return p;
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  return p; // a loop: writing it fails with ELOOP, which names the path
}

util::Status write_through(const fs::path& path, std::string_view data) {
  // O_APPEND: /dev/stdout redirected to a file keeps what labctl printed before.
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return write_error(path, errno);
  return write_and_close(fd, path, data);
}

} // namespace

int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    if (n == 0)
      return ENOSPC;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

util::Status write_file_atomic(const fs::path& path, std::string_view data) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  // A unique temporary name (threads and processes may write the same path at once),
  // created with O_EXCL | O_NOFOLLOW and mode 0666 so that the umask decides the mode.
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    tmp = fmt::format("{}.tmp.{}.{}", path.string(), ::getpid(), g_temp_counter++);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0)
    return write_error(path, errno);
  if (auto s = write_and_close(fd, path, data); !s) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return write_error(path, err);
  }
  return util::ok_status();
}

util::Status write_new_file(const fs::path& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0)
    return write_error(path, errno);
  return write_and_close(fd, path, data);
}

util::Status write_report_file(const fs::path& path, std::string_view data) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT)
      return write_error(path, errno);
    return write_file_atomic(path, data);
  }
  if (S_ISREG(st.st_mode))
    return write_file_atomic(path, data);
  if (S_ISDIR(st.st_mode))
    return write_error(path, EISDIR);
  if (!S_ISLNK(st.st_mode))
    return write_through(path, data);
  // A symlink: write what it points at and keep the link.
  auto target = resolve_links(path);
  if (!target)
    return write_through(path, data);
  if (::stat(target->c_str(), &st) != 0) {
    if (errno != ENOENT)
      return write_error(path, errno);
    return write_file_atomic(*target, data); // a dangling link: create its target
  }
  if (S_ISREG(st.st_mode))
    return write_file_atomic(*target, data);
  if (S_ISDIR(st.st_mode))
    return write_error(path, EISDIR);
  return write_through(*target, data);
}

util::Status remove_tree(const fs::path& path) {
  if (int err = remove_at(AT_FDCWD, path.c_str()); err != 0)
    return util::Failure{fmt::format("cannot remove {}: {}", path.string(), std::strerror(err)),
                         err};
  return util::ok_status();
}

util::Status make_fresh_directory(const fs::path& path) {
  if (auto removed = remove_tree(path); !removed)
    return removed;
  std::error_code ec;
  if (!path.parent_path().empty())
    fs::create_directories(path.parent_path(), ec);
  // EEXIST here means another process put something there since: it is not ours.
  if (::mkdir(path.c_str(), 0777) != 0)
    return util::errno_failure("cannot create " + path.string());
  return util::ok_status();
}

std::optional<bool> filesystem_full(const fs::path& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0)
    return std::nullopt;
  // Root may use the reserved blocks, so for root only no free block at all is full.
  return (::geteuid() == 0 ? st.f_bfree : st.f_bavail) == 0;
}

util::Result<FileLock> FileLock::try_acquire(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0)
    return util::errno_failure("cannot open the lock file " + path.string());
  FileLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK)
      return util::Failure{fmt::format("cannot lock {}: {}", path.string(), std::strerror(err)),
                           err};
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
      holder.pop_back();
    return util::Failure{fmt::format("held by {} (lock file {})",
                                     holder.empty() ? "another process" : "pid " + holder,
                                     path.string()),
                         err};
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0)
    return util::errno_failure("cannot write " + path.string());
  return lock;
}

FileLock::~FileLock() {
  if (m_fd >= 0)
    ::close(m_fd); // closing the last descriptor releases the flock
}

fs::path cache_root() {
  if (const char* dir = std::getenv("LABCTL_CACHE_DIR"); dir && *dir)
    return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return fs::path(xdg) / "labctl";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "labctl";
}

fs::path timestamped_folder(const fs::path& parent) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  return parent / fmt::format("{:%Y%m%d-%H%M%S}-{}", tm, ::getpid());
}

TempDir::TempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = fmt::format("{}/{}.XXXXXX", base && *base ? base : "/tmp", prefix);
  if (!::mkdtemp(templ.data()))
    util::throw_error(util::errno_failure("cannot create a temporary directory " + templ));
  m_path = templ;
}

TempDir::TempDir(TempDir&& other) noexcept : m_path(std::move(other.m_path)) {
  other.m_path.clear();
}

TempDir::~TempDir() {
  if (m_path.empty())
    return;
  std::error_code ec;
  fs::remove_all(m_path, ec);
}

} // namespace labctl
