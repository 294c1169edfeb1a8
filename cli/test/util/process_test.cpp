#include "util/process.h"

#include "test_support.h"
#include "util/interrupt.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

namespace labctl {
namespace {

using namespace std::chrono_literals;

TEST(Process, CapturesStdoutStderrAndExitCode) {
  auto r = run_capture({.argv = {"sh", "-c", "printf out; printf err >&2; exit 3"}}, 10s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->out, "out");
  EXPECT_EQ(r->err, "err");
  EXPECT_EQ(r->status.code, 3);
  EXPECT_FALSE(r->timed_out);
}

TEST(Process, FeedsInput) {
  std::string big(1 << 20, 'x');
  auto r = run_capture({.argv = {"wc", "-c"}}, 10s, big);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::stoul(r->out), big.size());
}

TEST(Process, TimeoutKillsTheWholeGroup) {
  // The grandchild holds stdout open; only killing the group ends it.
  auto r = run_capture({.argv = {"sh", "-c", "sleep 30 & sleep 30"}}, 300ms);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->status.signal, SIGKILL);
}

TEST(Process, MissingProgramIsEnvironmentError) {
  auto r = run_capture({.argv = {"labctl-no-such-program"}}, 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().error_number, ENOENT);
  EXPECT_NE(r.error().message.find("labctl-no-such-program"), std::string::npos);
}

TEST(Process, SignalIsReported) {
  auto r = run_capture({.argv = {"sh", "-c", "kill -TERM $$"}}, 10s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status.signal, SIGTERM);
  EXPECT_NE(r->status.describe().find("signal 15"), std::string::npos);
}

// Whether `pid` is gone or a zombie: a SIGKILLed grandchild is reparented and reaped by
// someone else, so it may linger as a zombie for a moment.
bool dead(pid_t pid) {
  auto stat = read_file(fmt::format("/proc/{}/stat", pid));
  if (!stat)
    return true;
  auto paren = stat->rfind(')');
  return paren != std::string::npos && stat->compare(paren + 2, 1, "Z") == 0;
}

// `dead(pid)` within `bound`: a process that was killed is gone long before; one that was
// not (a sleep 300) is not, so the bound does not decide the outcome.
bool dies_within(pid_t pid, std::chrono::seconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!dead(pid)) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Installs labctl's handlers for one test and forgets the signal afterwards.
class ProcessInterrupt : public ::testing::Test {
protected:
  void SetUp() override {
    install_interrupt_handlers();
    reset_interrupt();
  }
  void TearDown() override { reset_interrupt(); }
  test::ScratchDir dir;
};

TEST_F(ProcessInterrupt, SignalEndsTheWaitAndKillsTheWholeGroupEvenWhatIgnoresSigterm) {
  auto pid_file = dir.path() / "grandchild.pid";
  // The child and its grandchild ignore SIGTERM; the child then interrupts this process
  // itself, so the signal arrives while run_capture waits, with no timing involved.
  auto started = std::chrono::steady_clock::now();
  auto r = run_capture({.argv = {"sh", "-c",
                                 "trap '' TERM; sleep 300 & echo $! > \"$0\"; kill -INT $PPID; "
                                 "wait",
                                 pid_file.string()}},
                       600s);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->interrupted);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->status.signal, SIGKILL) << r->status.describe();
  // Far below the 300 s the group would otherwise live: SIGKILL came after the grace.
  EXPECT_LT(took, 120s);
  EXPECT_GE(took, k_terminate_grace);
  auto grandchild = read_file(pid_file);
  ASSERT_TRUE(grandchild.ok());
  EXPECT_TRUE(dies_within(std::stoi(*grandchild), 30s)) << "the grandchild survived";
}

TEST_F(ProcessInterrupt, AChildThatHonoursSigtermEndsByIt) {
  auto r = run_capture({.argv = {"sh", "-c", "kill -TERM $PPID; exec sleep 300"}}, 600s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->interrupted);
  EXPECT_EQ(r->status.signal, SIGTERM) << r->status.describe();
}

TEST_F(ProcessInterrupt, NothingStartsAfterASignal) {
  auto marker = dir.path() / "ran";
  ::raise(SIGHUP);
  auto r = run_capture({.argv = {"touch", marker.string()}}, 10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().error_number, EINTR); // labctl maps it to ExitCode::interrupted
  EXPECT_FALSE(fs::exists(marker));
}

} // namespace
} // namespace labctl
