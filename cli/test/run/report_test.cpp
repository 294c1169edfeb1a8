#include "run/report.h"

#include "guest/fault_scanner.h"
#include "judge/debugcon_diff.h"
#include "judge/judge.h"
#include "run/json_report_reader.h"
#include "run/scenario_runner.h"
#include "test_support.h"
#include "util/process.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace labctl {
namespace {

// The reports below are built the way the scenario runner builds them: steps judged by
// judge_step, faults converted by fault_report, failures from the judges. A scenario stops
// at its first failing step, and whole-run expectations (kernel log, debugcon) are only
// judged when every step passed.

Step step(std::string run, int line, int exit_code = 0) {
  Step s;
  s.run = std::move(run);
  s.line = line;
  s.exit_code = exit_code;
  return s;
}

StepReport step_report(const Step& step, StepResult run) {
  auto failures = judge_step(step, run);
  return {.command = step.run, .line = step.line, .result = std::move(run), .failures = failures};
}

// What the runner fills in before anything runs.
ScenarioReport started_report(const Scenario& scenario) {
  ScenarioReport r;
  r.name = scenario.name;
  r.file = scenario.file;
  r.artifacts = "/tmp/art/" + scenario.name;
  r.accel = "tcg";
  r.accel_reason = "/dev/kvm is missing";
  r.kernel = "6.1.0-56-amd64";
  r.kernel_image = "/boot/vmlinuz-6.1.0-56-amd64";
  r.timeline = {{"qemu_started", 0.0}, {"first_console_line", 1.9}, {"init_started", 3.1},
                {"ready", 3.4},        {"steps_done", 3.6},         {"qemu_exited", 4.0}};
  return r;
}

Scenario debugcon_scenario() {
  Scenario s;
  s.file = "scenarios/debugcon.json";
  s.name = "debugcon";
  s.steps = {step("echo \"hello from Linux\" > /dev/debugcon", 6)};
  return s;
}

ScenarioReport passed_report() {
  Scenario s = debugcon_scenario();
  ScenarioReport r = started_report(s);
  r.seconds = 4.21;
  r.steps.push_back(step_report(s.steps[0], {.exit_code = 0, .seconds = 0.05}));
  return r;
}

KernelFault null_dereference() {
  return {.kind = "oops",
          .title = "BUG: kernel NULL pointer dereference, address: 0000000000000000",
          .report = "BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
                    "Oops: 0002 [#1] PREEMPT SMP NOPTI\n"
                    "RIP: 0010:labctl_fault_write.cold+0x40/0x14a [labctl_fault]\n"
                    "---[ end trace 0000000000000000 ]---\n"};
}

Scenario oops_scenario() {
  Scenario s;
  s.file = "tests/scenarios/oops-in-step.json";
  s.name = "oops-in-step";
  s.steps = {step("echo fine", 5), step("echo oops > /dev/labctl_fault", 6)};
  return s;
}

// tests/scenarios/oops-in-step.json: step 2 Oopses, the shell reports 137, the run stops.
ScenarioReport failed_report() {
  Scenario s = oops_scenario();
  ScenarioReport r = started_report(s);
  r.verdict = Verdict::failed;
  r.exit_code = 1;
  r.seconds = 12.04;
  r.steps.push_back(step_report(s.steps[0], {.exit_code = 0, .out = "fine\n", .seconds = 0.1}));
  r.steps.push_back(step_report(s.steps[1], {.exit_code = 137, .err = "Killed\n", .seconds = 0.3}));
  AttributedFault fault{null_dereference(), {.name = "step", .step = 2}};
  r.faults.push_back(fault_report(fault, s));
  r.failures = judge_faults(s.expect, {{fault.fault.kind, fault.fault.title}});
  return r;
}

// Every step passed; the kernel log and debugcon expectations did not.
ScenarioReport expectations_failed_report() {
  Scenario s = debugcon_scenario();
  s.expect.kernel_log = {"Received 12 characters"};
  ScenarioReport r = started_report(s);
  r.verdict = Verdict::failed;
  r.exit_code = 1;
  r.seconds = 5.5;
  r.steps.push_back(step_report(s.steps[0], {.exit_code = 0, .seconds = 0.05}));
  r.failures = judge_kernel_log(s.expect, "debugcon: loaded\nfoo\n");
  auto cmp = compare_debugcon("hello\n", "HELLO\n", "scenarios/debugcon.expected",
                              "/tmp/art/debugcon/debugcon.txt");
  r.debugcon_diff = cmp.diff;
  r.failures.push_back(
      fmt::format("debugcon output differs from scenarios/debugcon.expected (first difference "
                  "at byte {})",
                  cmp.first_difference));
  return r;
}

// A scenario that could not run (scenario_pool.cpp's error_report).
ScenarioReport error_report() {
  ScenarioReport r;
  r.name = "smoke";
  r.file = "scenarios/smoke.json";
  r.verdict = Verdict::error;
  r.exit_code = 3;
  r.failures = {"qemu-system-x86_64 not found (install qemu-system-x86)"};
  return r;
}

ScenarioReport skipped_report() {
  ScenarioReport r;
  r.name = "new-api";
  r.file = "scenarios/new-api.json";
  r.verdict = Verdict::skipped;
  r.skip_reason = "kernels '>=6.4' excludes 6.1.0-57-amd64";
  r.kernel = "6.1.0-57-amd64";
  return r;
}

TEST(ReportTerminal, SummaryLines) {
  EXPECT_EQ(terminal_summary_line(passed_report(), false), "PASS  debugcon  (4.2 s)");
  EXPECT_EQ(terminal_summary_line(failed_report(), false), "FAIL  oops-in-step  (12.0 s)");
  EXPECT_EQ(terminal_summary_line(error_report(), false), "ERROR smoke  (0.0 s)");
  EXPECT_EQ(terminal_summary_line(passed_report(), true), "\x1b[32mPASS\x1b[0m  debugcon  (4.2 s)");
  EXPECT_EQ(terminal_summary_line(failed_report(), true),
            "\x1b[31mFAIL\x1b[0m  oops-in-step  (12.0 s)");
  EXPECT_EQ(terminal_summary_line(skipped_report(), false),
            "SKIP  new-api  (kernels '>=6.4' excludes 6.1.0-57-amd64)");
  EXPECT_EQ(failure_explanation(skipped_report()), "");
}

TEST(ReportTerminal, BuildWarningsAreShownPerFolderAtTheUsersLines) {
  ScenarioReport r;
  EXPECT_EQ(build_warnings_text(r), "");
  r.build_warnings = {{"kmod/a", "/src/a.c:3:5: warning: unused variable 'x'\n"},
                      {"kmod/b", "WARNING: modpost: \"f\" [b.ko] undefined!\n"}};
  EXPECT_EQ(build_warnings_text(r), "  module kmod/a built with warnings:\n"
                                    "    | /src/a.c:3:5: warning: unused variable 'x'\n"
                                    "  module kmod/b built with warnings:\n"
                                    "    | WARNING: modpost: \"f\" [b.ko] undefined!\n");
}

TEST(ReportTerminal, PassedScenarioNeedsNoExplanation) {
  EXPECT_EQ(failure_explanation(passed_report()), "");
}

TEST(ReportTerminal, FailureExplanation) {
  ScenarioReport r = failed_report();
  ASSERT_EQ(r.steps[1].failures.size(), 1u);
  EXPECT_EQ(
      failure_explanation(r),
      fmt::format("oops-in-step (tests/scenarios/oops-in-step.json) failed:\n"
                  "  step 2 at tests/scenarios/oops-in-step.json:6: echo oops > /dev/labctl_fault\n"
                  "    {}\n"
                  "  kernel fault (oops): BUG: kernel NULL pointer dereference, address: "
                  "0000000000000000\n"
                  "  kernel oops during step 2 (`echo oops > /dev/labctl_fault`, "
                  "tests/scenarios/oops-in-step.json:6): BUG: kernel NULL pointer dereference, "
                  "address: 0000000000000000\n"
                  "    | BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
                  "    | Oops: 0002 [#1] PREEMPT SMP NOPTI\n"
                  "    | RIP: 0010:labctl_fault_write.cold+0x40/0x14a [labctl_fault]\n"
                  "    | ---[ end trace 0000000000000000 ]---\n"
                  "    full report: /tmp/art/oops-in-step/faults.txt\n"
                  "  kernel 6.1.0-56-amd64, accel tcg (/dev/kvm is missing)\n"
                  "  artifacts: /tmp/art/oops-in-step\n",
                  r.steps[1].failures[0]));
}

// The frames run/scenario_runner resolves: the user's module (inlined code), a kernel frame
// with a line (a debug vmlinux), a kernel frame without one and a stale '? ' frame.
std::vector<FaultFrame> resolved_frames() {
  auto frames = stack_frames("RIP: 0010:hidden_write+0x15/0x30 [hidden_oops]\n"
                             " vfs_write+0xc7/0x3f0\n"
                             " ? stale_thing+0x1/0x2\n"
                             " ksys_write+0x6b/0xf0\n");
  return {{frames[0],
           {{"hidden_store", "/src/x/x.c", 12, 2}, {"hidden_write", "/src/x/x.c", 42, 0}},
           true},
          {frames[1], {{"vfs_write", "/build/fs/read_write.c", 582, 0}}, false},
          {frames[2], {{"stale_thing", "/build/x.c", 1, 0}}, false},
          {frames[3], {}, false}};
}

TEST(ReportTerminal, FaultWithSourceLinesShowsTheUsersFramesThenTheKernelsThenTheReportFile) {
  ScenarioReport r = failed_report();
  r.faults[0].frames = resolved_frames();
  std::string text = failure_explanation(r);
  EXPECT_NE(text.find("tests/scenarios/oops-in-step.json:6): BUG: kernel NULL pointer "
                      "dereference, address: 0000000000000000\n"
                      "    hidden_store  /src/x/x.c:12 (inlined into hidden_write)\n"
                      "    hidden_write  /src/x/x.c:42  (hidden_write+0x15/0x30 [hidden_oops])\n"
                      "    vfs_write  /build/fs/read_write.c:582  (vfs_write+0xc7/0x3f0)\n"
                      "    full report: /tmp/art/oops-in-step/faults.txt\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("    | Oops: 0002"), std::string::npos) << "the raw report is in faults.txt";
  EXPECT_EQ(text.find("stale_thing"), std::string::npos) << "a '? ' frame is not shown";
  // A module frame nothing resolved is still named.
  r.faults[0].frames[0].source.clear();
  EXPECT_NE(failure_explanation(r).find("    hidden_write+0x15/0x30 [hidden_oops]  (no source "
                                        "line)\n    vfs_write  /build/fs/read_write.c:582"),
            std::string::npos)
      << failure_explanation(r);
}

TEST(ReportJson, FaultFramesCarryTheirSourceLines) {
  ScenarioReport r = failed_report();
  r.faults[0].frames = resolved_frames();
  Json j = to_json(r);
  const Json& frames = j["faults"][0]["frames"];
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0]["frame"], "hidden_write+0x15/0x30 [hidden_oops]");
  EXPECT_EQ(frames[0]["function"], "hidden_write");
  EXPECT_EQ(frames[0]["offset"], 0x15);
  EXPECT_EQ(frames[0]["size"], 0x30);
  EXPECT_EQ(frames[0]["module"], "hidden_oops");
  EXPECT_EQ(frames[0]["exact"], true);
  EXPECT_EQ(frames[0]["user"], true);
  EXPECT_EQ(frames[0]["source"],
            Json::parse(R"([{"function": "hidden_store", "file": "/src/x/x.c", "line": 12,
                             "column": 2},
                            {"function": "hidden_write", "file": "/src/x/x.c", "line": 42,
                             "column": 0}])"));
  EXPECT_EQ(frames[1]["module"], "");
  EXPECT_EQ(frames[1]["exact"], false);
  EXPECT_EQ(frames[2]["reliable"], false);
  EXPECT_TRUE(frames[3]["source"].empty());
}

TEST(ReportTerminal, ExpectationFailureExplanation) {
  ScenarioReport r = expectations_failed_report();
  ASSERT_EQ(r.failures.size(), 2u);
  EXPECT_EQ(
      failure_explanation(r),
      fmt::format("debugcon (scenarios/debugcon.json) failed:\n"
                  "  {}\n"
                  "  debugcon output differs from scenarios/debugcon.expected (first difference at "
                  "byte 0)\n"
                  "  debugcon output differs from the expected bytes:\n"
                  "    --- scenarios/debugcon.expected\n"
                  "    +++ /tmp/art/debugcon/debugcon.txt\n"
                  "    @@ -1 +1 @@\n"
                  "    -hello\n"
                  "    +HELLO\n"
                  "  kernel 6.1.0-56-amd64, accel tcg (/dev/kvm is missing)\n"
                  "  artifacts: /tmp/art/debugcon\n",
                  r.failures[0]));
}

TEST(ReportTerminal, ErrorExplanation) {
  EXPECT_EQ(failure_explanation(error_report()),
            "smoke (scenarios/smoke.json) could not run:\n"
            "  qemu-system-x86_64 not found (install qemu-system-x86)\n");
}

TEST(ReportTerminal, LongFaultReportsAreCut) {
  Scenario scenario = debugcon_scenario();
  ScenarioReport r = passed_report();
  r.verdict = Verdict::failed;
  r.exit_code = 1;
  std::string trace;
  for (int i = 0; i < 100; ++i)
    trace += "frame " + std::to_string(i) + "\n";
  r.faults.push_back(fault_report(
      {{.kind = "panic", .title = "Kernel panic", .report = trace}, {.name = "boot"}}, scenario));
  std::string text = failure_explanation(r);
  EXPECT_NE(text.find("  kernel panic during boot: Kernel panic\n    | frame 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("    | frame 59\n    | [... 40 more lines]\n"), std::string::npos) << text;
}

TEST(ReportTerminal, UnprintableBytesDoNotReachTheTerminal) {
  ScenarioReport r = failed_report();
  r.steps[1].command = "printf '\\033[2J'\x1b[2J";
  r.faults[0].step = r.steps[1].command;
  r.faults[0].report = "bad\x1b]0;title\x07 bytes\xff\n";
  std::string text = failure_explanation(r);
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
  EXPECT_NE(text.find("bad\\x1b]0;title\\x07 bytes\\xff"), std::string::npos) << text;
  EXPECT_NE(text.find("(`printf '\\\\033[2J'\\x1b[2J`, "), std::string::npos) << text;
}

TEST(ReportExitCode, HighestWins) {
  EXPECT_EQ(suite_exit_code({}), 0);
  EXPECT_EQ(suite_exit_code({passed_report()}), 0);
  EXPECT_EQ(suite_exit_code({passed_report(), failed_report()}), 1);
  EXPECT_EQ(suite_exit_code({failed_report(), error_report(), passed_report()}), 3);
}

TEST(ReportXml, Escaping) {
  EXPECT_EQ(xml_escape("a<b>&\"c\"'d'", false), "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
  EXPECT_EQ(xml_escape("l1\nl2\tx\r\n", false), "l1\nl2\tx&#13;\n");
  EXPECT_EQ(xml_escape("l1\nl2\tx", true), "l1&#10;l2&#9;x");
  EXPECT_EQ(xml_escape("]]>", false), "]]&gt;");
  // Characters XML 1.0 forbids even as references are shown as text instead.
  EXPECT_EQ(xml_escape(std::string("nul\0 esc\x1b bell\x07 bad\xff ok\xc3\xa9", 25), false),
            "nul\\x00 esc\\x1b bell\\x07 bad\\xff ok\xc3\xa9");
  EXPECT_EQ(xml_escape("\xef\xbf\xbe", false), "\\xef\\xbf\\xbe"); // U+FFFE
}

TEST(ReportXml, JunitDocument) {
  std::string xml = junit_xml({passed_report(), error_report()});
  EXPECT_EQ(xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"labctl\" tests=\"2\" failures=\"0\" errors=\"1\" time=\"4.210\">\n"
            "  <testsuite name=\"labctl\" tests=\"2\" failures=\"0\" errors=\"1\" time=\"4.210\" "
            "skipped=\"0\">\n"
            "    <testcase classname=\"labctl\" name=\"debugcon\" file=\"scenarios/debugcon.json\" "
            "time=\"4.210\">\n"
            "      <system-out>kernel 6.1.0-56-amd64, accel tcg (/dev/kvm is missing)\n"
            "artifacts: /tmp/art/debugcon\n"
            "\n"
            "$ echo &quot;hello from Linux&quot; &gt; /dev/debugcon\n"
            "# step 1 (scenarios/debugcon.json:6): exit 0, 0.05 s\n"
            "</system-out>\n"
            "    </testcase>\n"
            "    <testcase classname=\"labctl\" name=\"smoke\" file=\"scenarios/smoke.json\" "
            "time=\"0.000\">\n"
            "      <error message=\"qemu-system-x86_64 not found (install qemu-system-x86)\" "
            "type=\"error\">smoke (scenarios/smoke.json) could not run:\n"
            "  qemu-system-x86_64 not found (install qemu-system-x86)\n"
            "</error>\n"
            "    </testcase>\n"
            "  </testsuite>\n"
            "</testsuites>\n");
}

TEST(ReportXml, SkippedCarriesItsReason) {
  std::string xml = junit_xml({passed_report(), skipped_report()});
  EXPECT_NE(xml.find("tests=\"2\" failures=\"0\" errors=\"0\" time=\"4.210\" skipped=\"1\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("name=\"new-api\" file=\"scenarios/new-api.json\" time=\"0.000\">\n"
                     "      <skipped message=\"kernels &apos;&gt;=6.4&apos; excludes "
                     "6.1.0-57-amd64\"/>\n"),
            std::string::npos)
      << xml;
  EXPECT_EQ(xml.find("<failure"), std::string::npos);
  EXPECT_EQ(suite_exit_code({passed_report(), skipped_report()}), 0);
}

TEST(ReportXml, FailureCarriesTheFirstFailureAndTheExplanation) {
  std::string xml = junit_xml({failed_report()});
  EXPECT_NE(xml.find("failures=\"1\" errors=\"0\""), std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"step 2: exit code: expected 0, got 137 (killed by "
                     "SIGKILL)"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("type=\"failed\">oops-in-step (tests/scenarios/oops-in-step.json) failed:"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("    | Oops: 0002 [#1] PREEMPT SMP NOPTI\n"), std::string::npos);
  EXPECT_NE(xml.find("--- stderr\nKilled\n</system-out>"), std::string::npos) << xml;
}

TEST(ReportXml, HugeOutputIsCappedInSystemOut) {
  ScenarioReport r = passed_report();
  r.steps[0].result.out = std::string(1 << 20, 'x');
  std::string xml = junit_xml({r});
  EXPECT_LT(xml.size(), 100'000u);
  EXPECT_NE(xml.find("[... 983040 more bytes; the whole output is in the artifacts]"),
            std::string::npos);
}

// xmllint is the judge of well-formedness when it is installed.
TEST(ReportXml, WellFormedEvenWithHostileContent) {
  ScenarioReport r = failed_report();
  r.name = "we<ird> & \"name\"";
  r.steps[0].result.out =
      std::string("\0\x01\x08\x0b\x0c\x0e\x1f\x7f]]><![CDATA[&amp;\xff\xfe\r\n", 29);
  r.steps[1].result.err = "\xed\xa0\x80 surrogate, \xef\xbf\xbf nonchar, \xc3\x28 broken";
  r.failures.push_back(std::string("control \x02 in a message", 23));
  std::string xml = junit_xml({r, passed_report(), error_report()});
  for (char c : xml) {
    unsigned char u = static_cast<unsigned char>(c);
    EXPECT_FALSE(u < 0x20 && u != '\n' && u != '\t') << "control byte " << int(u);
  }
  auto xmllint = find_program("xmllint");
  if (xmllint.empty())
    GTEST_SKIP() << "xmllint is not installed; only the byte check ran";
  test::ScratchDir dir;
  fs::path file = dir.write("junit.xml", xml);
  auto run =
      run_capture({.argv = {xmllint.string(), "--noout", file.string()}}, std::chrono::seconds(30));
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_TRUE(run->status.success()) << run->err;
}

// A fault is attributed to the phase it happened in; in a step, to that step's number and
// command (not a label such as "step 2 (x.json:6)").
TEST(ReportFault, StepFaultNamesTheStepsNumberAndCommand) {
  Scenario s = oops_scenario();
  FaultReport in_step = fault_report({null_dereference(), {.name = "step", .step = 2}}, s);
  EXPECT_EQ(in_step.phase, "step");
  EXPECT_EQ(in_step.step_index, 2);
  EXPECT_EQ(in_step.step, "echo oops > /dev/labctl_fault");
  EXPECT_EQ(in_step.kind, "oops");
  EXPECT_EQ(in_step.title, null_dereference().title);
  EXPECT_EQ(in_step.report, null_dereference().report);
  for (const char* phase : {"boot", "shutdown"}) {
    FaultReport outside = fault_report({null_dereference(), {.name = phase}}, s);
    EXPECT_EQ(outside.phase, phase);
    EXPECT_EQ(outside.step_index, 0) << phase;
    EXPECT_EQ(outside.step, "") << phase;
  }
}

TEST(ReportJson, Keys) {
  Json j = to_json(std::vector<ScenarioReport>{passed_report(), failed_report(), error_report(),
                                               expectations_failed_report(), skipped_report()});
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["summary"], Json({{"total", 5},
                                {"passed", 1},
                                {"failed", 2},
                                {"errors", 1},
                                {"skipped", 1},
                                {"seconds", 21.75}}));
  ASSERT_EQ(j["scenarios"].size(), 5u);
  EXPECT_EQ(j["scenarios"][4]["verdict"], "skipped");
  EXPECT_EQ(j["scenarios"][4]["exit_code"], 0);
  EXPECT_EQ(j["scenarios"][4]["skip_reason"], "kernels '>=6.4' excludes 6.1.0-57-amd64");
  EXPECT_EQ(j["scenarios"][0]["skip_reason"], "");
  const Json& failed = j["scenarios"][1];
  EXPECT_EQ(failed["name"], "oops-in-step");
  EXPECT_EQ(failed["file"], "tests/scenarios/oops-in-step.json");
  EXPECT_EQ(failed["verdict"], "failed");
  EXPECT_EQ(failed["exit_code"], 1);
  EXPECT_EQ(failed["kernel"], "6.1.0-56-amd64");
  EXPECT_EQ(failed["kernel_image"], "/boot/vmlinuz-6.1.0-56-amd64");
  EXPECT_EQ(failed["accel"], "tcg");
  EXPECT_EQ(failed["accel_reason"], "/dev/kvm is missing");
  EXPECT_EQ(failed["artifacts"], "/tmp/art/oops-in-step");
  EXPECT_EQ(failed["failures"],
            Json({"kernel fault (oops): BUG: kernel NULL pointer dereference, address: "
                  "0000000000000000"}));
  EXPECT_EQ(failed["faults"], Json::array({{{"kind", "oops"},
                                            {"title", null_dereference().title},
                                            {"report", null_dereference().report},
                                            {"phase", "step"},
                                            {"step_index", 2},
                                            {"step", "echo oops > /dev/labctl_fault"},
                                            {"frames", Json::array()}}}));
  ASSERT_EQ(failed["steps"].size(), 2u);
  EXPECT_EQ(failed["steps"][1], Json({{"command", "echo oops > /dev/labctl_fault"},
                                      {"line", 6},
                                      {"exit_code", 137},
                                      {"stdout", ""},
                                      {"stderr", "Killed\n"},
                                      {"seconds", 0.3},
                                      {"timed_out", false},
                                      {"failures", failed_report().steps[1].failures}}));
  EXPECT_EQ(failed["debugcon_diff"], "");
  EXPECT_EQ(failed["timeline"][3], Json::array({"ready", 3.4}));
  const Json& error = j["scenarios"][2];
  EXPECT_EQ(error["kernel"], "");
  EXPECT_EQ(error["kernel_image"], "");
  EXPECT_EQ(error["steps"], Json::array());
  EXPECT_EQ(error["timeline"], Json::array());
  EXPECT_EQ(j["scenarios"][3]["debugcon_diff"], expectations_failed_report().debugcon_diff);
}

// Steps that did not run are listed by command, with what stopped them (issue 14).
ScenarioReport failed_with_skipped_steps() {
  ScenarioReport r = failed_report();
  r.skipped_steps = {{.command = "cat /dev/labctl_fault", .line = 7, .reason = "step 2 failed"},
                     {.command = "echo done", .line = 8, .reason = "step 2 failed"}};
  return r;
}

TEST(ReportJson, SkippedStepsAndLostKernelLogRecords) {
  Json j = to_json(failed_with_skipped_steps());
  EXPECT_EQ(
      j["skipped_steps"],
      Json::array({{{"command", "cat /dev/labctl_fault"}, {"line", 7}, {"reason", "step 2 failed"}},
                   {{"command", "echo done"}, {"line", 8}, {"reason", "step 2 failed"}}}));
  EXPECT_EQ(j["kernel_log_lost"], 0);
  EXPECT_EQ(to_json(passed_report())["skipped_steps"], Json::array());
  ScenarioReport lost = passed_report();
  lost.kernel_log_lost = 12;
  EXPECT_EQ(to_json(lost)["kernel_log_lost"], 12);
}

TEST(ReportTerminal, StepsNotRunAreListedAfterTheFailedStep) {
  std::string text = failure_explanation(failed_with_skipped_steps());
  EXPECT_NE(text.find("  not run (step 2 failed):\n"
                      "    step 3 at tests/scenarios/oops-in-step.json:7: cat /dev/labctl_fault\n"
                      "    step 4 at tests/scenarios/oops-in-step.json:8: echo done\n"),
            std::string::npos)
      << text;
  EXPECT_LT(text.find("step 2 at"), text.find("not run"));
}

TEST(ReportTerminal, LostKernelLogRecordsAreANoteForAnyVerdict) {
  ScenarioReport r = passed_report();
  EXPECT_EQ(notes_text(r), "");
  r.kernel_log_lost = 3400;
  EXPECT_EQ(notes_text(r), "  kernel log: 3400 records lost (the kernel's ring buffer overwrote "
                           "them before /dev/kmsg was read, and the console did not print them)\n");
}

TEST(ReportXml, EachStepNotRunIsASkippedTestcase) {
  std::string xml = junit_xml({failed_with_skipped_steps(), passed_report()});
  EXPECT_NE(xml.find(R"(<testsuite name="labctl" tests="4" failures="1" errors="0")"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("skipped=\"2\">"), std::string::npos) << xml;
  EXPECT_NE(
      xml.find(
          R"(    <testcase classname="labctl.oops-in-step" name="step 3: cat /dev/labctl_fault" file="tests/scenarios/oops-in-step.json" time="0.000">
      <skipped message="not run: step 2 failed"/>
    </testcase>)"),
      std::string::npos)
      << xml;
  EXPECT_NE(xml.find(R"(name="step 4: echo done")"), std::string::npos) << xml;
}

// A step without an exit status says why in JUnit's system-out, not "exit -1".
TEST(ReportXml, AStepWithoutExitStatusSaysWhatHappened) {
  ScenarioReport r = failed_report();
  r.steps[1].result.exit_code = -1;
  r.steps[1].result.outcome = WaitOutcome::agent_died;
  r.steps[1].result.error = "the guest agent died (killed by signal 9; init restarts it)";
  std::string xml = junit_xml({r});
  EXPECT_EQ(xml.find("exit -1"), std::string::npos) << xml;
  EXPECT_NE(xml.find("# step 2 (tests/scenarios/oops-in-step.json:6): the guest agent died "
                     "(killed by signal 9; init restarts it), 0.30 s"),
            std::string::npos)
      << xml;
  EXPECT_NE(junit_xml({failed_report()}).find("exit 137 (killed by SIGKILL), 0.30 s"),
            std::string::npos);
}

// The schema's fault kinds are the scanner's list, not a copy that can drift.
TEST(ReportJson, SchemaFaultKindsAreTheScannersKinds) {
  auto text = read_file(test::test_data("../../docs/report-json.schema.json"));
  ASSERT_TRUE(text.ok()) << text.error().message;
  Json schema = Json::parse(*text);
  EXPECT_EQ(schema["$defs"]["fault"]["properties"]["kind"]["enum"].get<std::vector<std::string>>(),
            std::vector<std::string>(k_fault_kinds.begin(), k_fault_kinds.end()));
}

TEST(ReportJson, FaultOutsideTheStepsHasNoStep) {
  ScenarioReport r = passed_report();
  r.faults.push_back(fault_report({null_dereference(), {.name = "boot"}}, debugcon_scenario()));
  Json fault = to_json(r)["faults"][0];
  EXPECT_EQ(fault["phase"], "boot");
  EXPECT_TRUE(fault["step_index"].is_null()) << fault.dump();
  EXPECT_EQ(fault["step"], "");
}

TEST(ReportJson, BinaryOutputKeepsItsExactBytes) {
  ScenarioReport r = passed_report();
  r.steps[0].result.out = std::string("bin\0\xff\xfe\n", 7);
  Json j = to_json(r);
  EXPECT_EQ(j["steps"][0]["stdout"], "bin\\x00\\xff\\xfe\n");
  EXPECT_EQ(j["steps"][0]["stdout_base64"], "YmluAP/+Cg==");
  EXPECT_FALSE(j["steps"][0].contains("stderr_base64"));
}

TEST(ReportJson, BuildWarningsArePerModuleFolder) {
  ScenarioReport r = passed_report();
  EXPECT_EQ(to_json(r)["build_warnings"], Json::array());
  r.build_warnings = {{"/src/warning", "warning.c:12:13: warning: unused variable 'x'\n"}};
  Json j = to_json(r);
  ASSERT_EQ(j["build_warnings"].size(), 1u);
  EXPECT_EQ(j["build_warnings"][0]["module"], "/src/warning");
  EXPECT_EQ(j["build_warnings"][0]["warnings"], "warning.c:12:13: warning: unused variable 'x'\n");
}

TEST(ReportJson, RoundTrip) {
  std::vector<ScenarioReport> reports = {passed_report(), failed_report(), error_report(),
                                         expectations_failed_report()};
  reports[0].faults.push_back(
      fault_report({null_dereference(), {.name = "shutdown"}}, debugcon_scenario()));
  reports[0].steps[0].result.out = std::string("bin\0\xff\xfe\n", 7);
  reports[0].steps[0].result.err = "x";
  reports[1].steps[0].result.out = "ab";
  reports[1].steps[0].result.err = "abc";
  reports[1].steps[1].result.out = "\xc3\xa9t\xc3\xa9\t\x01";
  reports[1].steps[1].result.timed_out = true;
  reports[1].faults[0].frames = resolved_frames();
  reports[0].build_warnings = {
      {"/src/warning", "/src/warning/warning.c:12:13: warning: unused variable 'x'\n"}};
  reports[1].skipped_steps = {{.command = "cat /x", .line = 7, .reason = "step 2 failed"}};
  reports[3].kernel_log_lost = 3400;
  std::string text = json_report(reports);
  EXPECT_EQ(text.back(), '\n');
  auto back = parse_json_report(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), reports.size());
  for (size_t i = 0; i < reports.size(); ++i)
    EXPECT_EQ((*back)[i], reports[i]) << "scenario " << i;
}

TEST(ReportJson, ParseRejectsOtherDocuments) {
  auto wrong_version = parse_json_report(R"({"version": 2, "scenarios": []})");
  ASSERT_FALSE(wrong_version.ok());
  EXPECT_EQ(wrong_version.error().code, ExitCode::bad_input);
  EXPECT_FALSE(parse_json_report("[]").ok());
  EXPECT_FALSE(parse_json_report("{").ok());
  EXPECT_FALSE(parse_json_report(R"({"version": 1, "scenarios": [{"name": 1}]})").ok());
}

} // namespace
} // namespace labctl
