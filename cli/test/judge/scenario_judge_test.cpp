#include "judge/judge.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

// Two steps at lines 6 and 7 of smoke.json, 10 s each, the scenario 60 s.
Scenario two_steps() {
  Scenario s;
  s.name = "smoke";
  s.file = "scenarios/smoke.json";
  s.timeout = 60;
  for (int line : {6, 7}) {
    Step step;
    step.run = "echo hi";
    step.line = line;
    step.timeout = 10;
    step.expected_stdout = "hi\n";
    s.steps.push_back(step);
  }
  return s;
}

StepObservation answered(int exit_code, std::string out) {
  StepObservation seen;
  seen.result.exit_code = exit_code;
  seen.result.out = std::move(out);
  return seen;
}

StepObservation unanswered(WaitOutcome outcome) {
  StepObservation seen;
  seen.result.exit_code = -1;
  seen.result.outcome = outcome;
  seen.console = {"[   5.1] first", "[   5.2] last"};
  return seen;
}

// A boot that reached READY and two steps that printed what they should.
Observations good_run() {
  Observations seen;
  seen.boot.emplace();
  seen.steps = {answered(0, "hi\n"), answered(0, "hi\n")};
  seen.console_log_limit = 64 << 20;
  seen.kernel_log = "Linux version 6.1\nlabctl: ready\n";
  return seen;
}

bool contains(const std::vector<std::string>& failures, std::string_view text) {
  for (const auto& f : failures)
    if (f.find(text) != std::string::npos)
      return true;
  return false;
}

TEST(Verdict, WordsRoundTrip) {
  for (Verdict v : {Verdict::passed, Verdict::failed, Verdict::error, Verdict::skipped})
    EXPECT_EQ(parse_verdict(to_string(v)), v);
  EXPECT_EQ(to_string(Verdict::skipped), "skipped");
  EXPECT_TRUE(passing(Verdict::skipped));
  EXPECT_FALSE(passing(Verdict::error));
  EXPECT_FALSE(passing(Verdict::failed));
  EXPECT_EQ(to_string(Verdict::passed), "passed");
  EXPECT_EQ(to_string(Verdict::failed), "failed");
  EXPECT_EQ(to_string(Verdict::error), "error");
  EXPECT_EQ(parse_verdict("PASS"), std::nullopt);
  EXPECT_EQ(parse_verdict(""), std::nullopt);
}

TEST(JudgeScenario, PassesWhenEveryStepAndExpectationHolds) {
  Scenario s = two_steps();
  s.expect.kernel_log = {"labctl: ready"};
  Judgement j = judge(s, good_run());
  EXPECT_EQ(j.verdict, Verdict::passed);
  EXPECT_EQ(j.exit_code, ExitCode::passed);
  ASSERT_EQ(j.step_failures.size(), 2u);
  EXPECT_TRUE(j.step_failures[0].empty());
  EXPECT_TRUE(j.step_failures[1].empty());
  EXPECT_TRUE(j.failures.empty());
}

TEST(JudgeScenario, AFailingStepFailsAndSkipsTheWholeRunExpectations) {
  Scenario s = two_steps();
  s.expect.kernel_log = {"never printed"};
  Observations seen = good_run();
  seen.steps = {answered(1, "hi\n")};
  Judgement j = judge(s, seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_EQ(j.exit_code, ExitCode::failed);
  ASSERT_EQ(j.step_failures.size(), 1u);
  ASSERT_EQ(j.step_failures[0].size(), 1u);
  EXPECT_EQ(j.step_failures[0][0], "exit code: expected 0, got 1");
  EXPECT_TRUE(j.failures.empty()) << j.failures[0];
}

// The steps after a failed one are named as not run, with what stopped them (issue 14).
TEST(JudgeScenario, StepsAfterAFailedStepAreNotRunBecauseOfIt) {
  Scenario s = two_steps();
  Observations seen = good_run();
  seen.steps = {answered(1, "hi\n")};
  EXPECT_EQ(judge(s, seen).steps_not_run, "step 1 failed");
  // A soft dependency that did not load stopped nothing: the failed step did.
  seen.boot->modules = {{.name = "crc32c_intel", .ok = false, .optional = true}};
  EXPECT_EQ(judge(s, seen).steps_not_run, "step 1 failed");
  EXPECT_EQ(judge(s, good_run()).steps_not_run, "");
  seen.steps.clear();
  seen.boot->modules = {{.name = "led", .ok = false, .error_text = "insmod: can't insert"}};
  EXPECT_EQ(judge(s, seen).steps_not_run, "module led did not load");
  seen.boot->outcome = WaitOutcome::timeout;
  EXPECT_EQ(judge(s, seen).steps_not_run, "the boot failed");
  seen.boot.reset();
  seen.prepare_failure = "module ../kmod/x did not build: ...";
  EXPECT_EQ(judge(s, seen).steps_not_run,
            "the guest could not be prepared (a module did not build)");
  // A scenario that does not apply skips no steps of its own.
  seen.skip_reason = "kernels '>=6.4' excludes 6.1.0-57-amd64";
  EXPECT_EQ(judge(s, seen).steps_not_run, "");
}

// A scenario that does not apply is skipped with its reason, whatever else was seen: it
// exits 0, and nothing it would have checked is judged.
TEST(JudgeScenario, ASkipReasonSkipsWithThatReason) {
  Scenario s = two_steps();
  s.expect.kernel_log = {"never printed"};
  Observations seen;
  seen.skip_reason = "kernels '>=6.4' excludes 6.1.0-57-amd64";
  Judgement j = judge(s, seen);
  EXPECT_EQ(j.verdict, Verdict::skipped);
  EXPECT_EQ(j.exit_code, ExitCode::passed);
  EXPECT_EQ(j.skip_reason, "kernels '>=6.4' excludes 6.1.0-57-amd64");
  EXPECT_TRUE(j.failures.empty());
  EXPECT_TRUE(j.step_failures.empty());
  // A signal still wins: the run did not end by its own decision.
  seen.interrupted = true;
  j = judge(s, seen);
  EXPECT_EQ(j.verdict, Verdict::error);
  EXPECT_EQ(j.exit_code, ExitCode::interrupted);
  EXPECT_EQ(j.skip_reason, "");
}

TEST(JudgeScenario, AnUnmatchedKernelLogRegexSaysHowManyRecordsWereLost) {
  Scenario s = two_steps();
  s.expect.kernel_log = {"flood line 1$"};
  Observations seen = good_run();
  seen.kernel_log_lost = 3400;
  Judgement j = judge(s, seen);
  ASSERT_EQ(j.failures.size(), 1u);
  EXPECT_NE(j.failures[0].find("(2 lines); 3400 records are missing from it: the kernel's ring "
                               "buffer overwrote them"),
            std::string::npos)
      << j.failures[0];
}

TEST(JudgeScenario, KernelLogIsJudgedWhenTheRunIsComplete) {
  Scenario s = two_steps();
  s.expect.kernel_log = {"never printed"};
  Judgement j = judge(s, good_run());
  EXPECT_EQ(j.verdict, Verdict::failed);
  ASSERT_EQ(j.failures.size(), 1u);
  EXPECT_TRUE(contains(j.failures, "kernel_log /never printed/ did not match")) << j.failures[0];
}

TEST(JudgeScenario, AStepWithoutAnswerSaysWhichTimeoutEndedIt) {
  Scenario s = two_steps();
  Observations seen = good_run();
  seen.steps = {unanswered(WaitOutcome::timeout)};
  Judgement j = judge(s, seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  ASSERT_EQ(j.step_failures.size(), 1u);
  ASSERT_EQ(j.step_failures[0].size(), 1u);
  EXPECT_EQ(j.step_failures[0][0].rfind("timed out after 10 s: no answer from the guest", 0), 0u)
      << j.step_failures[0][0];
  EXPECT_NE(j.step_failures[0][0].find("  | [   5.2] last\n"), std::string::npos);

  seen.steps[0].scenario_deadline_passed = true;
  j = judge(s, seen);
  EXPECT_EQ(j.step_failures[0][0].rfind("scenario timed out after 60 s", 0), 0u)
      << j.step_failures[0][0];
}

TEST(JudgeScenario, QemuExitingDuringAStepFailsWithItsReason) {
  Observations seen = good_run();
  seen.steps = {unanswered(WaitOutcome::qemu_exited)};
  seen.steps[0].qemu_exit = "the guest rebooted, which ends QEMU under -no-reboot (exit 0)";
  Judgement j = judge(two_steps(), seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_EQ(j.step_failures[0][0].rfind("the guest rebooted, which ends QEMU under -no-reboot "
                                        "(exit 0) while the step ran; last console lines:\n",
                                        0),
            0u)
      << j.step_failures[0][0];
}

TEST(JudgeScenario, AnInterruptedStepIsAnErrorWithExitCode130) {
  Observations seen = good_run();
  seen.steps = {answered(0, "hi\n"), unanswered(WaitOutcome::interrupted)};
  seen.interrupted = true;
  Judgement j = judge(two_steps(), seen);
  EXPECT_EQ(j.verdict, Verdict::error);
  EXPECT_EQ(j.exit_code, ExitCode::interrupted);
  EXPECT_TRUE(j.step_failures[1].empty());
  // Said once: the run's own "interrupted" is not added on top.
  EXPECT_EQ(j.failures, std::vector<std::string>{"interrupted during step 2 (smoke.json:7)"});
}

TEST(JudgeScenario, QemuThatPrintedNothingAndFailedIsTheEnvironment) {
  Observations seen;
  seen.boot.emplace();
  seen.boot->outcome = WaitOutcome::qemu_exited;
  seen.boot->qemu_status = {.code = 1};
  seen.boot->qemu_stderr = "qemu: could not load kernel";
  Judgement j = judge(two_steps(), seen);
  EXPECT_EQ(j.verdict, Verdict::error);
  EXPECT_EQ(j.exit_code, ExitCode::environment);
  EXPECT_TRUE(contains(j.failures, "QEMU could not start the guest (exit code 1): qemu: could not "
                                   "load kernel"))
      << j.failures[0];

  // Once the guest printed something, QEMU's exit is the scenario's failure.
  seen.boot->console_bytes = 100;
  seen.boot->qemu_exit = "QEMU exited (exit code 1)";
  j = judge(two_steps(), seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_TRUE(contains(j.failures, "QEMU exited (exit code 1) during boot")) << j.failures[0];
}

TEST(JudgeScenario, APanicDuringBootIsNamedWhateverEndedTheWait) {
  Observations seen;
  seen.boot.emplace();
  seen.boot->outcome = WaitOutcome::timeout;
  seen.boot->panic = KernelFault{.kind = "panic",
                                 .title = "Kernel panic - not syncing: VFS",
                                 .report = "Kernel panic - not syncing: VFS\n"};
  Judgement j = judge(two_steps(), seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  ASSERT_EQ(j.failures.size(), 1u);
  EXPECT_EQ(j.failures[0].rfind("kernel panic during boot: Kernel panic - not syncing: VFS", 0),
            0u);
}

TEST(JudgeScenario, ABootTimeoutNamesTheTimeoutThatEndedIt) {
  Observations seen;
  seen.boot.emplace();
  seen.boot->outcome = WaitOutcome::timeout;
  seen.boot->boot_timeout = 45;
  Judgement j = judge(two_steps(), seen);
  EXPECT_TRUE(contains(j.failures, "the profile's boot_timeout of 45 s, built-in default"))
      << j.failures[0];
  seen.boot->ended_by_scenario_timeout = true;
  j = judge(two_steps(), seen);
  EXPECT_TRUE(
      contains(j.failures, "the scenario's timeout of 60 s, key 'timeout' in scenarios/smoke.json"))
      << j.failures[0];
}

TEST(JudgeScenario, AModuleThatDidNotLoadShowsItsConsoleLines) {
  Observations seen;
  seen.boot.emplace();
  seen.boot->modules = {{.name = "good", .ok = true},
                        {.name = "bad", .ok = false, .error_text = "-22"}};
  seen.boot->console = {"[1.0] unrelated", "[1.1] bad: Unknown symbol foo"};
  Judgement j = judge(two_steps(), seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_EQ(j.failures, std::vector<std::string>{
                            "module bad failed to load: -22\n  | [1.1] bad: Unknown symbol foo\n"});
}

// modprobe goes on when a soft dependency fails (crc32c_intel on a CPU without SSE 4.2).
TEST(JudgeScenario, ASoftDependencyThatDidNotLoadFailsNothing) {
  Observations seen = good_run();
  seen.boot->modules = {
      {.name = "crc32c_intel", .ok = false, .error_text = "No such device", .optional = true},
      {.name = "libcrc32c", .ok = true}};
  Judgement j = judge(two_steps(), seen);
  EXPECT_EQ(j.verdict, Verdict::passed);
  EXPECT_TRUE(j.failures.empty());
  seen.boot->modules[0].optional = false;
  EXPECT_EQ(judge(two_steps(), seen).verdict, Verdict::failed);
}

// kbleds' lines are not led's: a module's console lines are those that name it as a word.
TEST(JudgeScenario, AModuleThatDidNotLoadShowsOnlyTheLinesThatNameItExactly) {
  Observations seen;
  seen.boot.emplace();
  seen.boot->modules = {{.name = "led", .ok = false, .error_text = "insmod: can't insert"}};
  seen.boot->console = {
      "[2.0] RIP: 0010:kbleds_init+0x15/0x30 [kbleds]",
      "[2.1] Modules linked in: kbleds(OE+) led_class", "[2.2] led: probe of led0 failed",
      "[2.3] Call Trace: led_work+0x1/0x2 [led]", "[2.4] insmod /lib/modules/6.1/extra/led.ko"};
  Judgement j = judge(two_steps(), seen);
  EXPECT_EQ(j.failures,
            std::vector<std::string>{"module led failed to load: insmod: can't insert\n"
                                     "  | [2.2] led: probe of led0 failed\n"
                                     "  | [2.3] Call Trace: led_work+0x1/0x2 [led]\n"
                                     "  | [2.4] insmod /lib/modules/6.1/extra/led.ko\n"});
  // The kernel spells a module's '-' as '_'.
  seen.boot->modules = {{.name = "my-drv", .ok = false, .error_text = "failed"}};
  seen.boot->console = {"[3.0] my_drv: Unknown symbol foo (err -2)", "[3.1] my_drv_extra: x"};
  EXPECT_EQ(
      judge(two_steps(), seen).failures,
      std::vector<std::string>{"module my-drv failed to load: failed\n"
                               "  | [3.0] my_drv: Unknown symbol foo (err -2 (ENOENT: No such "
                               "file or directory))\n"});
}

// Errno values are named, those glibc does not know too (-517 is EPROBE_DEFER).
TEST(JudgeScenario, AModuleLoadFailureNamesItsErrno) {
  Observations seen;
  seen.boot.emplace();
  seen.boot->modules = {
      {.name = "defer",
       .ok = false,
       .error_text = "insmod: can't insert '/lib/modules/6.1/extra/defer.ko': Unknown error 517"}};
  seen.boot->console = {"[1.5] defer: probe of defer.0 failed with error -517"};
  Judgement j = judge(two_steps(), seen);
  ASSERT_EQ(j.failures.size(), 1u);
  EXPECT_NE(j.failures[0].find("Unknown error 517 (EPROBE_DEFER: probe deferred"),
            std::string::npos)
      << j.failures[0];
  EXPECT_NE(j.failures[0].find("failed with error -517 (EPROBE_DEFER: probe deferred"),
            std::string::npos)
      << j.failures[0];
}

TEST(JudgeScenario, FaultsFailUnlessExpected) {
  Scenario s = two_steps();
  Observations seen = good_run();
  seen.faults = {{.fault = {.kind = "oops", .title = "BUG: kernel NULL pointer dereference"},
                  .phase = {.name = "step", .step = 2}}};
  Judgement j = judge(s, seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_EQ(j.failures,
            std::vector<std::string>{"kernel fault (oops): BUG: kernel NULL pointer dereference"});

  s.expect.faults = {"oops"};
  EXPECT_EQ(judge(s, seen).verdict, Verdict::passed);

  seen.faults_dropped = 3;
  seen.max_faults = 64;
  j = judge(s, seen);
  EXPECT_TRUE(contains(j.failures, "more kernel fault reports followed the first 64"));
}

// Two steps, the second declared to end the guest with `end`; the run saw it end with `seen_end`.
Scenario ends_guest_scenario(GuestEnd end) {
  Scenario s = two_steps();
  s.steps[1].run = "echo c > /proc/sysrq-trigger";
  s.steps[1].expected_stdout.reset();
  s.steps[1].ends_guest = end;
  return s;
}

Observations guest_ended(std::optional<GuestEnd> seen_end) {
  Observations seen = good_run();
  seen.steps[1] = unanswered(WaitOutcome::qemu_exited);
  seen.steps[1].qemu_exit = seen_end == GuestEnd::poweroff ? "the guest powered off (exit code 0)"
                                                           : "QEMU exited (exit code 0)";
  seen.steps[1].guest_end = seen_end;
  if (seen_end == GuestEnd::panic)
    seen.faults = {
        {.fault = {.kind = "panic", .title = "Kernel panic - not syncing: sysrq triggered crash"},
         .phase = {.name = "step", .step = 2}}};
  return seen;
}

TEST(JudgeGuestEnd, TheDeclaredEndPasses) {
  for (GuestEnd end : {GuestEnd::panic, GuestEnd::poweroff, GuestEnd::reset}) {
    Judgement j = judge(ends_guest_scenario(end), guest_ended(end));
    EXPECT_EQ(j.verdict, Verdict::passed) << to_string(end) << ": " << j.failures.size();
    EXPECT_TRUE(j.failures.empty());
    ASSERT_EQ(j.step_failures.size(), 2u);
    EXPECT_TRUE(j.step_failures[1].empty());
  }
}

// The panic of the step that declares it needs no expect.faults entry; one that lists
// "panic" is met by it.
TEST(JudgeGuestEnd, TheDeclaredPanicIsExpected) {
  Scenario s = ends_guest_scenario(GuestEnd::panic);
  s.expect.faults = {"panic"};
  EXPECT_EQ(judge(s, guest_ended(GuestEnd::panic)).verdict, Verdict::passed);
  // A panic elsewhere is not the declared one.
  Observations seen = guest_ended(GuestEnd::panic);
  seen.faults[0].phase = {.name = "boot"};
  Judgement j = judge(ends_guest_scenario(GuestEnd::panic), seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_TRUE(contains(j.failures, "kernel fault (panic): Kernel panic - not syncing"));
}

TEST(JudgeGuestEnd, AStepThatReturnsFails) {
  Observations seen = good_run();
  seen.steps[1] = answered(0, "");
  Judgement j = judge(ends_guest_scenario(GuestEnd::panic), seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_EQ(j.exit_code, ExitCode::failed);
  ASSERT_EQ(j.step_failures.size(), 2u);
  EXPECT_EQ(j.step_failures[1],
            std::vector<std::string>{"expected the guest to panic during this step "
                                     "(\"ends_guest\": \"panic\"), but the step returned (exit "
                                     "code 0); no output"});
  seen.steps[1] = answered(3, "still here\n");
  j = judge(ends_guest_scenario(GuestEnd::poweroff), seen);
  EXPECT_EQ(j.step_failures[1],
            std::vector<std::string>{"expected the guest to power off during this step "
                                     "(\"ends_guest\": \"poweroff\"), but the step returned (exit "
                                     "code 3); last stdout: \"still here\\n\""});
}

TEST(JudgeGuestEnd, AnotherEndFails) {
  Judgement j = judge(ends_guest_scenario(GuestEnd::reset), guest_ended(GuestEnd::poweroff));
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_EQ(j.step_failures[1],
            std::vector<std::string>{"expected the guest to reset during this step "
                                     "(\"ends_guest\": \"reset\"), but the guest powered off "
                                     "(exit code 0); last console lines:\n  | [   5.1] first\n"
                                     "  | [   5.2] last\n"});
  // A panic that was not declared is a failure twice: the step and the fault.
  j = judge(ends_guest_scenario(GuestEnd::poweroff), guest_ended(GuestEnd::panic));
  EXPECT_TRUE(contains(j.step_failures[1], "but the kernel panicked"));
  EXPECT_TRUE(contains(j.failures, "kernel fault (panic)"));
  // QEMU ended with nothing on the console to say how.
  j = judge(ends_guest_scenario(GuestEnd::panic), guest_ended(std::nullopt));
  EXPECT_TRUE(contains(j.step_failures[1], "(\"ends_guest\": \"panic\"), but QEMU exited (exit "
                                           "code 0); last console lines"));
}

TEST(JudgeGuestEnd, AHangOrAnInterruptIsNotTheDeclaredEnd) {
  Observations seen = good_run();
  seen.steps[1] = unanswered(WaitOutcome::timeout);
  Judgement j = judge(ends_guest_scenario(GuestEnd::panic), seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_TRUE(contains(j.step_failures[1], "but no answer came and QEMU kept running"));
  seen.steps[1] = unanswered(WaitOutcome::interrupted);
  seen.interrupted = true;
  j = judge(ends_guest_scenario(GuestEnd::panic), seen);
  EXPECT_EQ(j.verdict, Verdict::error);
  EXPECT_EQ(j.exit_code, ExitCode::interrupted);
}

TEST(JudgeScenario, AnArtifactNotWrittenIsTheEnvironmentUnlessInterrupted) {
  Observations seen = good_run();
  seen.artifact_error = "artifact not written: kernel.log: No space left on device";
  Judgement j = judge(two_steps(), seen);
  EXPECT_EQ(j.verdict, Verdict::error);
  EXPECT_EQ(j.exit_code, ExitCode::environment);
  EXPECT_EQ(j.failures, std::vector<std::string>{seen.artifact_error});

  seen.interrupted = true;
  j = judge(two_steps(), seen);
  EXPECT_EQ(j.exit_code, ExitCode::interrupted);
  EXPECT_EQ(j.failures, std::vector<std::string>{"interrupted"});
}

TEST(JudgeScenario, DebugconIsComparedOrNotComparedOnAFullDisk) {
  Scenario s = two_steps();
  s.expect.debugcon = ExpectedDebugcon{.bytes = "hello\n", .label = "smoke.expected"};
  Observations seen = good_run();
  seen.debugcon = {.size = 6, .text = "HELLO\n", .path = "/art/debugcon.txt"};
  Judgement j = judge(s, seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_EQ(j.failures, std::vector<std::string>{"debugcon output differs from smoke.expected "
                                                 "(first difference at byte 0)"});
  EXPECT_NE(j.debugcon_diff.find("-hello"), std::string::npos) << j.debugcon_diff;

  seen.debugcon.disk_full = true;
  j = judge(s, seen);
  EXPECT_EQ(j.verdict, Verdict::error);
  EXPECT_EQ(j.exit_code, ExitCode::environment);
  ASSERT_EQ(j.failures.size(), 1u);
  EXPECT_EQ(
      j.failures[0].rfind("debugcon not compared: /art/debugcon.txt: the filesystem is full", 0),
      0u)
      << j.failures[0];
  EXPECT_TRUE(j.debugcon_diff.empty());

  seen.debugcon = {.size = (uintmax_t{65} << 20), .path = "/art/debugcon.txt"};
  j = judge(s, seen);
  EXPECT_EQ(j.failures, std::vector<std::string>{"debugcon.txt holds 65 MiB, more than the 64 MiB "
                                                 "labctl compares with smoke.expected"});
}

TEST(JudgeScenario, AMissingTraceLogFailsTraceExpectations) {
  Scenario s = two_steps();
  s.expect.trace = {TraceExpectation{.regex = "pci_cfg_read"}};
  Observations seen = good_run();
  seen.trace_log_error = "cannot read /art/trace.log: No such file or directory";
  Judgement j = judge(s, seen);
  EXPECT_EQ(j.failures, std::vector<std::string>{
                            "trace: cannot read /art/trace.log: No such file or directory"});
  seen.trace_log = "pci_cfg_read addr=0\n";
  EXPECT_EQ(judge(s, seen).verdict, Verdict::passed);
}

TEST(JudgeScenario, ABuildWithWarningsFailsOnlyWhenTheScenarioSaysSo) {
  Scenario s = two_steps();
  Observations seen;
  seen.warned_modules = {"kmod/fault"};
  EXPECT_EQ(judge(s, seen).verdict, Verdict::passed);
  s.warnings_are_errors = true;
  Judgement j = judge(s, seen);
  EXPECT_EQ(j.verdict, Verdict::failed);
  EXPECT_EQ(j.failures, std::vector<std::string>{"module kmod/fault built with warnings (the "
                                                 "scenario says \"warnings\": \"error\")"});
}

TEST(JudgeScenario, AnErrorBeforeBootKeepsItsExitCode) {
  Observations seen;
  seen.setup_error = RunError{ExitCode::environment, "qemu-system-x86_64 not found"};
  Judgement j = judge(two_steps(), seen);
  EXPECT_EQ(j.verdict, Verdict::error);
  EXPECT_EQ(j.exit_code, ExitCode::environment);
  EXPECT_EQ(j.failures, std::vector<std::string>{"qemu-system-x86_64 not found"});
}

} // namespace
} // namespace labctl
