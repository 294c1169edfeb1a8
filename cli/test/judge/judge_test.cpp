#include "judge/judge.h"

#include "test_support.h"
#include "util/fs.h"

#include <gtest/gtest.h>

#include <chrono>

namespace labctl {
namespace {

using Failures = std::vector<std::string>;

Step step(std::string run = "true") {
  Step s;
  s.run = std::move(run);
  return s;
}

StepResult ran(int exit_code, std::string out = {}, std::string err = {}) {
  StepResult r;
  r.exit_code = exit_code;
  r.out = std::move(out);
  r.err = std::move(err);
  return r;
}

TEST(JudgeStep, PassesWhenEverythingMatches) {
  Step s = step("cat /dev/qemu_exercise");
  s.expected_stdout = "Hello from QEMU!";
  s.stdout_regex = "^Hello";
  EXPECT_EQ(judge_step(s, ran(0, "Hello from QEMU!\n")), Failures{});
}

TEST(JudgeStep, ExitCode) {
  EXPECT_EQ(judge_step(step(), ran(1)), Failures{"exit code: expected 0, got 1"});
  Step s = step();
  s.exit_code = 1;
  EXPECT_EQ(judge_step(s, ran(1)), Failures{});
  EXPECT_EQ(judge_step(s, ran(0)), Failures{"exit code: expected 1, got 0"});
}

TEST(JudgeStep, ExitCodeExplainsShellCodesAndShowsStderr) {
  EXPECT_EQ(judge_step(step(), ran(127, "", "sh: nope: not found\n")),
            Failures{"exit code: expected 0, got 127 (command not found); stderr: "
                     "\"sh: nope: not found\\n\""});
  EXPECT_EQ(judge_step(step(), ran(137)),
            Failures{"exit code: expected 0, got 137 (killed by SIGKILL)"});
  EXPECT_EQ(judge_step(step(), ran(139)),
            Failures{"exit code: expected 0, got 139 (killed by SIGSEGV)"});
}

TEST(JudgeStep, StdoutExactIgnoresOneTrailingNewline) {
  Step s = step();
  s.expected_stdout = "13";
  EXPECT_EQ(judge_step(s, ran(0, "13\n")), Failures{});
  EXPECT_EQ(judge_step(s, ran(0, "13")), Failures{});
  s.expected_stdout = "13\n";
  EXPECT_EQ(judge_step(s, ran(0, "13")), Failures{});
  // Only one newline is forgiven.
  EXPECT_EQ(judge_step(s, ran(0, "13\n\n")),
            Failures{"stdout: expected \"13\", got \"13\\n\"; stderr empty; exit code 0"});
}

TEST(JudgeStep, StdoutMismatchQuotesBothSides) {
  Step s = step("cat /dev/qemu_exercise");
  s.expected_stdout = "Hello from QEMU!";
  EXPECT_EQ(judge_step(s, ran(0, "")),
            Failures{"stdout: expected \"Hello from QEMU!\", got \"\"; stderr empty; exit code 0"});
  EXPECT_EQ(judge_step(s, ran(0, "Hello from QEMU?\n")),
            Failures{"stdout: expected \"Hello from QEMU!\", got \"Hello from QEMU?\"; stderr "
                     "empty; exit code 0"});
}

// A mismatch of one stream shows the other and the exit code (issue 14): why a command
// printed nothing is usually on stderr.
TEST(JudgeStep, AStreamMismatchShowsTheOtherStreamAndTheExitCode) {
  Step s = step("cat /dev/qemu_exercise");
  s.expected_stdout = "Hello from QEMU!";
  s.exit_code = 1;
  EXPECT_EQ(judge_step(s, ran(1, "", "cat: can't open '/dev/qemu_exercise': No such device\n")),
            Failures{"stdout: expected \"Hello from QEMU!\", got \"\"; stderr was \"cat: can't "
                     "open '/dev/qemu_exercise': No such device\\n\"; exit code 1"});
  Step e = step();
  e.stderr_regex = "denied";
  EXPECT_EQ(judge_step(e, ran(0, "it worked\n")),
            Failures{"stderr_regex /denied/ did not match; stderr was empty; stdout was \"it "
                     "worked\\n\"; exit code 0"});
  e.stderr_regex.reset();
  e.expected_stderr = "x";
  e.exit_code = 137;
  EXPECT_EQ(judge_step(e, ran(137, "partial")),
            Failures{"stderr: expected \"x\", got \"\"; stdout was \"partial\"; exit code 137 "
                     "(killed by SIGKILL)"});
}

TEST(JudgeStep, StderrExact) {
  Step s = step();
  s.exit_code = 1;
  s.expected_stderr = "busy";
  EXPECT_EQ(judge_step(s, ran(1, "", "busy\n")), Failures{});
  EXPECT_EQ(judge_step(s, ran(1, "", "Device or resource busy\n")),
            Failures{"stderr: expected \"busy\", got \"Device or resource busy\"; stdout empty; "
                     "exit code 1"});
}

TEST(JudgeStep, NonPrintableBytesAreVisible) {
  Step s = step();
  s.expected_stdout = "a\tb";
  EXPECT_EQ(judge_step(s, ran(0, std::string("a\0b\r\x1b[0m\xff", 9))),
            Failures{"stdout: expected \"a\\tb\", got \"a\\x00b\\r\\x1b[0m\\xff\"; stderr empty; "
                     "exit code 0"});
}

TEST(JudgeStep, LongValuesAreCutAroundTheFirstDifference) {
  Step s = step();
  std::string expected(5000, 'x');
  std::string got = expected;
  got[3000] = 'y';
  s.expected_stdout = expected;
  auto failures = judge_step(s, ran(0, got));
  ASSERT_EQ(failures.size(), 1u);
  const std::string& f = failures[0];
  EXPECT_LT(f.size(), 600u) << f;
  EXPECT_NE(f.find("(5000 bytes)"), std::string::npos) << f;
  EXPECT_NE(f.find("(first difference at byte 3000)"), std::string::npos) << f;
  EXPECT_NE(f.find("y"), std::string::npos) << f; // the window shows the difference
  EXPECT_EQ(f.rfind("stdout: expected ...\"x", 0), 0u) << f;
}

TEST(JudgeStep, Regexes) {
  Step s = step();
  s.exit_code = 1;
  s.stderr_regex = "busy";
  EXPECT_EQ(judge_step(s, ran(1, "", "sh: can't create /dev/debugcon: Device or resource busy\n")),
            Failures{});
  EXPECT_EQ(judge_step(s, ran(1, "", "sh: permission denied\n")),
            Failures{"stderr_regex /busy/ did not match; stderr was \"sh: permission denied\\n\"; "
                     "stdout empty; exit code 1"});
  EXPECT_EQ(
      judge_step(s, ran(1)),
      Failures{"stderr_regex /busy/ did not match; stderr was empty; stdout empty; exit code 1"});
}

TEST(JudgeStep, RegexAnchorsMatchAtLineEnds) {
  Step s = step("lsmod");
  s.stdout_regex = "^qemu_exercise ";
  EXPECT_EQ(judge_step(s, ran(0, "Module Size Used\ndebugcon 1 0\nqemu_exercise 2 0\n")),
            Failures{});
  s.stdout_regex = "^debugcon 1 0$";
  EXPECT_EQ(judge_step(s, ran(0, "Module Size Used\ndebugcon 1 0\nqemu_exercise 2 0\n")),
            Failures{});
}

TEST(JudgeStep, SeveralFailuresAreAllReported) {
  Step s = step();
  s.expected_stdout = "a";
  s.stdout_regex = "b";
  EXPECT_EQ(
      judge_step(s, ran(2, "c")),
      (Failures{"exit code: expected 0, got 2",
                "stdout: expected \"a\", got \"c\"; stderr empty; exit code 2",
                "stdout_regex /b/ did not match; stdout was \"c\"; stderr empty; exit code 2"}));
}

TEST(JudgeStep, TimeoutShowsTheLastOutput) {
  Step s = step("sleep 100");
  s.timeout = 10;
  s.expected_stdout = "never compared";
  StepResult r = ran(-1, "started\nwaiting", "warning\n");
  r.timed_out = true;
  EXPECT_EQ(judge_step(s, r), Failures{"timed out after 10s; last stdout: \"started\\nwaiting\"; "
                                       "last stderr: \"warning\\n\""});
  r.out.clear();
  r.err.clear();
  EXPECT_EQ(judge_step(s, r), Failures{"timed out after 10s; no output"});
  r.out = std::string(1000, 'a') + "END";
  auto failures = judge_step(s, r);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("aEND\" (1003 bytes)"), std::string::npos) << failures[0];
}

TEST(JudgeQuote, ShortTextIsQuotedWhole) {
  EXPECT_EQ(quote_excerpt("abc"), "\"abc\"");
  EXPECT_EQ(quote_excerpt(""), "\"\"");
  EXPECT_EQ(quote_excerpt("a\"b\\c"), "\"a\"b\\\\c\"");
}

TEST(JudgeQuote, LongTextShowsAWindow) {
  std::string text(1000, '.');
  EXPECT_EQ(quote_excerpt(text, 0, 10), "\"..........\"... (1000 bytes)");
  EXPECT_EQ(quote_excerpt(text, 1000, 10), "...\"..........\" (1000 bytes)");
  EXPECT_EQ(quote_excerpt(text, 500, 10), "...\"..........\"... (1000 bytes)");
}

TEST(JudgeKernelLog, ExpectedAndAbsent) {
  Expect e;
  e.kernel_log = {"QEMU Exercise: Received 12 characters", "^\\[ *[0-9.]+\\] debugcon: ready$"};
  e.kernel_log_absent = {"Oops", "BUG:"};
  std::string log = "[    1.000] booting\r\n[    2.000] debugcon: ready\r\n"
                    "[    3.000] QEMU Exercise: Received 12 characters from the user\r\n";
  EXPECT_EQ(judge_kernel_log(e, log), Failures{});

  std::string bad = log + "[    4.000] BUG: kernel NULL pointer dereference, address: 0\r\n"
                          "[    4.001] Oops: 0002 [#1] PREEMPT SMP NOPTI\r\n";
  EXPECT_EQ(judge_kernel_log(e, bad),
            (Failures{"kernel_log_absent /Oops/ matched line 5: \"[    4.001] Oops: 0002 [#1] "
                      "PREEMPT SMP NOPTI\"",
                      "kernel_log_absent /BUG:/ matched line 4: \"[    4.000] BUG: kernel NULL "
                      "pointer dereference, address: 0\""}));

  EXPECT_EQ(judge_kernel_log(e, "[    1.000] booting\n"),
            (Failures{"kernel_log /QEMU Exercise: Received 12 characters/ did not match "
                      "anywhere in the kernel log (1 lines)",
                      "kernel_log /^\\[ *[0-9.]+\\] debugcon: ready$/ did not match anywhere in "
                      "the kernel log (1 lines)"}));
}

TEST(JudgeKernelLog, MatchOnTheFirstAndLastLine) {
  Expect e;
  e.kernel_log_absent = {"^first"};
  EXPECT_EQ(judge_kernel_log(e, "first line"),
            Failures{"kernel_log_absent /^first/ matched line 1: \"first line\""});
  e.kernel_log_absent = {"last$"};
  EXPECT_EQ(judge_kernel_log(e, "a\nb\nthe last"),
            Failures{"kernel_log_absent /last$/ matched line 3: \"the last\""});
}

TEST(JudgeKernelLog, RecordedOopsConsole) {
  auto log = read_file(test::test_data("console/oops.log"));
  if (!log)
    GTEST_SKIP() << log.error().message;
  Expect e;
  e.kernel_log_absent = {"Oops"};
  auto failures = judge_kernel_log(e, *log);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("Oops: 0002 [#1]"), std::string::npos) << failures[0];
  EXPECT_EQ(failures[0].find("\\r"), std::string::npos) << failures[0];
}

// RE2 is linear: patterns that would make a backtracking engine crawl or overflow its stack
// finish (within the test timeout; speed itself is not asserted here).
TEST(JudgeKernelLog, MegabytesOfLogWithPathologicalPatterns) {
  std::string log;
  for (int i = 0; log.size() < (3u << 20); ++i)
    log += "[ 12.345678] labctl_fault: flood line " + std::to_string(i) + " of many\r\n";
  log += "[ 99.000000] the end\r\n";
  Expect e;
  e.kernel_log = {"(a|b|.)*the end", "^(.*)*x?\\[ 99\\.0+\\] the end$", "the end"};
  e.kernel_log_absent = {"(x+x+)+y", "Oops", "(.*a){20}Z"};
  EXPECT_EQ(judge_kernel_log(e, log), Failures{});
  e.kernel_log = {"never there"};
  auto failures = judge_kernel_log(e, log);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("did not match anywhere"), std::string::npos);
}

TEST(JudgeFaults, UnexpectedFaultsFail) {
  Expect e;
  EXPECT_EQ(judge_faults(e, {}), Failures{});
  EXPECT_EQ(judge_faults(e, {{"oops", "BUG: kernel NULL pointer dereference, address: 0"}}),
            Failures{"kernel fault (oops): BUG: kernel NULL pointer dereference, address: 0"});
}

TEST(JudgeFaults, ExpectedFaultsMustHappen) {
  Expect e;
  e.faults = {"oops", "warning", "oops"};
  EXPECT_TRUE(fault_expected(e, "oops"));
  EXPECT_FALSE(fault_expected(e, "panic"));
  EXPECT_EQ(judge_faults(e, {{"oops", "x"}, {"warning", "y"}, {"oops", "z"}}), Failures{});
  EXPECT_EQ(judge_faults(e, {{"oops", "x"}, {"panic", "Kernel panic - not syncing"}}),
            (Failures{"kernel fault (panic): Kernel panic - not syncing",
                      "expected a kernel fault of kind 'warning' (expect.faults), none occurred"}));
}

} // namespace
} // namespace labctl
