#include "util/process.h"

#include <gtest/gtest.h>

#include <csignal>

namespace labctl {
namespace {

using namespace std::chrono_literals;

TEST(Process, CapturesStdoutStderrAndExitCode) {
  auto r = run_command({.argv = {"sh", "-c", "printf out; printf err >&2; exit 3"}}, 10s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->out, "out");
  EXPECT_EQ(r->err, "err");
  EXPECT_EQ(r->status.code, 3);
  EXPECT_FALSE(r->timed_out);
}

TEST(Process, FeedsInput) {
  std::string big(1 << 20, 'x');
  auto r = run_command({.argv = {"wc", "-c"}}, 10s, big);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::stoul(r->out), big.size());
}

TEST(Process, TimeoutKillsTheWholeGroup) {
  // The grandchild holds stdout open; only killing the group ends it.
  auto r = run_command({.argv = {"sh", "-c", "sleep 30 & sleep 30"}}, 300ms);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->status.signal, SIGKILL);
}

TEST(Process, MissingProgramIsEnvironmentError) {
  auto r = run_command({.argv = {"labctl-no-such-program"}}, 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ExitCode::environment);
  EXPECT_NE(r.error().message.find("labctl-no-such-program"), std::string::npos);
}

TEST(Process, SignalIsReported) {
  auto r = run_command({.argv = {"sh", "-c", "kill -TERM $$"}}, 10s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status.signal, SIGTERM);
  EXPECT_NE(r->status.describe().find("signal 15"), std::string::npos);
}

} // namespace
} // namespace labctl
