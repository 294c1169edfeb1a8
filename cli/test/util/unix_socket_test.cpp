#include "test_support.h"
#include "util/unix_socket.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace labctl {
namespace {

using namespace std::chrono_literals;

// A client connection to `path`, made before anything accepts it (the listen backlog
// holds it).
UniqueFd connect_to(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
      << std::strerror(errno);
  return fd;
}

// What QEMU does when its guest ends at once: connect, then exit (its stderr hangs up).
// Both are there at the first poll; the connection that was made must be taken.
TEST(UnixAccept, AConnectionMadeBeforeTheWatchedFdHangsUpIsAccepted) {
  test::ScratchDir dir;
  auto listener = unix_listen(dir.path() / "s.sock");
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  auto client = connect_to(dir.path() / "s.sock");
  int watch[2];
  ASSERT_EQ(::pipe(watch), 0);
  ::close(watch[1]); // hung up before the accept
  auto accepted = unix_accept(listener->get(), 10s, watch[0]);
  ::close(watch[0]);
  EXPECT_TRUE(accepted.ok()) << accepted.error().message;
}

TEST(UnixAccept, NoConnectionAndAHungUpWatchedFdGivesUpAtOnce) {
  test::ScratchDir dir;
  auto listener = unix_listen(dir.path() / "s.sock");
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  int watch[2];
  ASSERT_EQ(::pipe(watch), 0);
  ::close(watch[1]);
  auto accepted = unix_accept(listener->get(), 600s, watch[0]);
  ::close(watch[0]);
  ASSERT_FALSE(accepted.ok());
  EXPECT_EQ(accepted.error().message, "gave up waiting for a connection");
}

} // namespace
} // namespace labctl
