#include "util/fs.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace labctl {

Result<std::string> read_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error{ExitCode::bad_input, fmt::format("{}: {}", path.string(), std::strerror(errno))};
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error{ExitCode::bad_input, fmt::format("{}: {}", path.string(), std::strerror(err))};
    }
    if (n == 0)
      break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

Status write_file_atomic(const fs::path& path, std::string_view data) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  // A unique temporary name: threads and processes may write the same path at once.
  std::string tmp = path.string() + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0)
    return Error{ExitCode::environment, fmt::format("{}: {}", tmp, std::strerror(errno))};
  ::fchmod(fd, 0644);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Error{ExitCode::environment, fmt::format("{}: {}", path.string(), std::strerror(err))};
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error{ExitCode::environment, fmt::format("{}: {}", path.string(), std::strerror(err))};
  }
  return ok_status();
}

fs::path cache_root() {
  if (const char* dir = std::getenv("LABCTL_CACHE_DIR"); dir && *dir)
    return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return fs::path(xdg) / "labctl";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "labctl";
}

TempDir::TempDir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = fmt::format("{}/{}.XXXXXX", base && *base ? base : "/tmp", prefix);
  if (!::mkdtemp(templ.data()))
    throw FatalError(environment_error(
        fmt::format("cannot create a temporary directory {}: {}", templ, std::strerror(errno))));
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
