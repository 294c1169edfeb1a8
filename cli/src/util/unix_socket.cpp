#include "util/unix_socket.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace labctl {

void UniqueFd::reset(int fd) {
  if (m_fd >= 0)
    ::close(m_fd);
  m_fd = fd;
}

util::Result<UniqueFd> unix_listen(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof addr.sun_path)
    return util::Failure{fmt::format("socket path too long: {}", path.string()), ENAMETOOLONG};
  std::strcpy(addr.sun_path, path.c_str());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid())
    return util::errno_failure("socket");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd.get(), 1) != 0)
    return util::errno_failure("listen on " + path.string());
  return fd;
}

util::Result<UniqueFd> unix_accept(int listener, std::chrono::milliseconds timeout,
                                   int also_watch) {
  pollfd fds[2] = {{listener, POLLIN, 0}, {also_watch, POLLIN, 0}};
  int n = also_watch >= 0 ? 2 : 1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return util::Failure{"timed out waiting for a connection", ETIMEDOUT};
    int r = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return util::errno_failure("poll");
    // A connection that is waiting wins over `also_watch`: a peer may connect and end at
    // once (a fake or real QEMU whose guest panics at the first instruction), and both
    // then arrive in the same poll.
    if (fds[0].revents & POLLIN) {
      int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0)
        return UniqueFd(fd);
      if (errno != EINTR && errno != EAGAIN)
        return util::errno_failure("accept");
    }
    if (n == 2 && fds[1].revents)
      return util::Failure{"gave up waiting for a connection"};
  }
}

bool write_all(int fd, std::string_view data, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
  return true;
}

} // namespace labctl
