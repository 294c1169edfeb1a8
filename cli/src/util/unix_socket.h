#pragma once

#include "util/result.h"

#include <chrono>
#include <filesystem>

namespace labctl {

// An owned file descriptor, closed on destruction.
class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : m_fd(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : m_fd(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      m_fd = o.release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  int release() {
    int fd = m_fd;
    m_fd = -1;
    return fd;
  }
  void reset(int fd = -1);

private:
  int m_fd = -1;
};

// A listening AF_UNIX stream socket at `path` (close-on-exec).
util::Result<UniqueFd> unix_listen(const std::filesystem::path& path);

// Accept one connection, waiting at most `timeout`; also gives up when `also_watch` (if >= 0)
// becomes readable or hangs up. The accepted socket is non-blocking.
util::Result<UniqueFd> unix_accept(int listener, std::chrono::milliseconds timeout,
                                   int also_watch = -1);

// Write everything, waiting on a non-blocking fd when needed; false when the peer is gone.
bool write_all(int fd, std::string_view data, std::chrono::milliseconds timeout);

} // namespace labctl
