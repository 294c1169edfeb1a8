// When `labctl run --shell-on-failure` stops in the guest, and the words it says why.
#include "run/failure_shell.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

Scenario two_steps() {
  Scenario s;
  s.name = "smoke";
  s.file = "/x/smoke.json";
  s.steps.push_back({.run = "echo one", .expected_stdout = "one", .line = 4});
  s.steps.push_back({.run = "echo two", .expected_stdout = "two", .line = 5});
  return s;
}

StepObservation answered(std::string out) {
  StepObservation seen;
  seen.result.exit_code = 0;
  seen.result.out = std::move(out);
  return seen;
}

Observations booted() {
  Observations seen;
  seen.boot.emplace();
  seen.boot->modules.push_back({.name = "hello", .ok = true});
  return seen;
}

AttributedFault fault(std::string kind, std::string title, int step) {
  AttributedFault f;
  f.fault.kind = std::move(kind);
  f.fault.title = std::move(title);
  f.phase = {.name = "step", .step = step};
  return f;
}

TEST(FailureStopReason, NothingFailedIsNoStop) {
  Observations seen = booted();
  seen.steps.push_back(answered("one\n"));
  seen.steps.push_back(answered("two\n"));
  EXPECT_EQ(failure_stop_reason(two_steps(), seen, {}), std::nullopt);
}

// A soft dependency that did not load (crc32c_intel without SSE 4.2) is no failure.
TEST(FailureStopReason, ASoftDependencyThatDidNotLoadIsNoStop) {
  Observations seen = booted();
  seen.boot->modules.push_back({.name = "crc32c_intel", .ok = false, .optional = true});
  seen.steps.push_back(answered("one\n"));
  seen.steps.push_back(answered("two\n"));
  EXPECT_EQ(failure_stop_reason(two_steps(), seen, {}), std::nullopt);
}

TEST(FailureStopReason, AFailedStepIsNamedWithItsLineAndTheJudgesWords) {
  Observations seen = booted();
  seen.steps.push_back(answered("one\n"));
  seen.steps.push_back(answered("three\n"));
  auto why = failure_stop_reason(two_steps(), seen, {});
  ASSERT_TRUE(why);
  EXPECT_EQ(why->rfind("step 2 (smoke.json:5) failed: stdout", 0), 0u) << *why;
  EXPECT_EQ(why->find('\n'), std::string::npos) << *why;
}

TEST(FailureStopReason, AStepThatDidNotAnswerSaysHowItsWaitEnded) {
  Observations seen = booted();
  seen.steps.push_back(answered("one\n"));
  seen.steps.emplace_back().result.outcome = WaitOutcome::qemu_exited;
  EXPECT_EQ(failure_stop_reason(two_steps(), seen, {}), "step 2 (smoke.json:5) QEMU exited");
}

TEST(FailureStopReason, AModuleThatDidNotLoadComesBeforeTheSteps) {
  Observations seen = booted();
  seen.boot->modules.push_back({.name = "broken",
                                .ok = false,
                                .error_text = "insmod: can't insert 'broken.ko': "
                                              "Invalid parameters\nmore"});
  EXPECT_EQ(failure_stop_reason(two_steps(), seen, {}),
            "module broken did not load: insmod: can't insert 'broken.ko': Invalid parameters");
}

TEST(FailureStopReason, ABootThatFailedSaysSoAndAPanicByItsTitle) {
  Observations seen;
  seen.boot.emplace().outcome = WaitOutcome::timeout;
  EXPECT_EQ(failure_stop_reason(two_steps(), seen, {}), "the guest did not boot (timed out)");
  seen.boot->outcome = WaitOutcome::qemu_exited;
  seen.boot->panic = KernelFault{.kind = "panic", .title = "Kernel panic - not syncing: x"};
  EXPECT_EQ(failure_stop_reason(two_steps(), seen, {}),
            "the guest kernel panicked during boot: Kernel panic - not syncing: x");
}

TEST(FailureStopReason, AnUnexpectedFaultStopsAnExpectedOneDoesNot) {
  Observations seen = booted();
  seen.steps.push_back(answered("one\n"));
  seen.steps.push_back(answered("two\n"));
  std::vector<AttributedFault> faults{fault("warning", "WARNING: CPU: 0 PID: 1 at x.c:3", 1)};
  EXPECT_EQ(failure_stop_reason(two_steps(), seen, faults),
            "kernel fault in step 1 (smoke.json:4): WARNING: CPU: 0 PID: 1 at x.c:3");
  Scenario expecting = two_steps();
  expecting.expect.faults = {"warning"};
  EXPECT_EQ(failure_stop_reason(expecting, seen, faults), std::nullopt);
}

} // namespace
} // namespace labctl
