#include "run/report.h"

#include "test_support.h"
#include "util/process.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

ScenarioReport passed_report() {
  ScenarioReport r;
  r.name = "debugcon";
  r.file = "scenarios/debugcon.json";
  r.seconds = 4.21;
  r.steps.push_back({.command = "echo \"hello from Linux\" > /dev/debugcon",
                     .line = 6,
                     .exit_code = 0,
                     .seconds = 0.05});
  r.artifacts = "/tmp/art/debugcon";
  r.accel = "tcg";
  r.accel_reason = "/dev/kvm is missing";
  r.kernel = "6.1.0-56-amd64";
  return r;
}

ScenarioReport failed_report() {
  ScenarioReport r;
  r.name = "qemu_exercise";
  r.file = "scenarios/qemu_exercise.json";
  r.verdict = "failed";
  r.exit_code = 1;
  r.seconds = 12.04;
  r.steps.push_back({.command = "cat /dev/qemu_exercise",
                     .line = 6,
                     .exit_code = 0,
                     .out = "",
                     .seconds = 0.1,
                     .failures = {"stdout: expected \"Hello from QEMU!\", got \"\""}});
  r.steps.push_back({.command = "echo oops > /dev/labctl_fault",
                     .line = 7,
                     .exit_code = 137,
                     .err = "Killed\n",
                     .seconds = 0.3,
                     .failures = {"exit code: expected 0, got 137 (killed by SIGKILL)"}});
  r.failures = {"kernel_log /Received 12 characters/ did not match anywhere in the kernel log "
                "(300 lines)",
                "kernel fault (oops): BUG: kernel NULL pointer dereference, address: 0"};
  r.faults.push_back({.kind = "oops",
                      .title = "BUG: kernel NULL pointer dereference, address: 0",
                      .report = "BUG: kernel NULL pointer dereference, address: 0\r\n"
                                "Oops: 0002 [#1] PREEMPT SMP NOPTI\r\n"
                                "RIP: 0010:labctl_fault_write.cold+0x40/0x14a [labctl_fault]\r\n",
                      .step = "echo oops > /dev/labctl_fault"});
  r.debugcon_diff = "--- scenarios/debugcon.expected\n+++ /tmp/art/debugcon.txt\n@@ -1 +1 @@\n"
                    "-hello\n+HELLO\n";
  r.artifacts = "/tmp/art/qemu_exercise";
  r.accel = "tcg";
  r.accel_reason = "/dev/kvm is missing";
  r.kernel = "6.1.0-56-amd64";
  return r;
}

ScenarioReport error_report() {
  ScenarioReport r;
  r.name = "smoke";
  r.file = "scenarios/smoke.json";
  r.verdict = "error";
  r.exit_code = 3;
  r.failures = {"qemu-system-x86_64 not found (install qemu-system-x86)"};
  return r;
}

TEST(ReportTerminal, SummaryLines) {
  EXPECT_EQ(terminal_summary_line(passed_report(), false), "PASS  debugcon  (4.2 s)");
  EXPECT_EQ(terminal_summary_line(failed_report(), false), "FAIL  qemu_exercise  (12.0 s)");
  EXPECT_EQ(terminal_summary_line(error_report(), false), "ERROR smoke  (0.0 s)");
  EXPECT_EQ(terminal_summary_line(passed_report(), true), "\x1b[32mPASS\x1b[0m  debugcon  (4.2 s)");
  EXPECT_EQ(terminal_summary_line(failed_report(), true),
            "\x1b[31mFAIL\x1b[0m  qemu_exercise  (12.0 s)");
}

TEST(ReportTerminal, PassedScenarioNeedsNoExplanation) {
  EXPECT_EQ(failure_explanation(passed_report()), "");
}

TEST(ReportTerminal, FailureExplanation) {
  EXPECT_EQ(failure_explanation(failed_report()),
            "qemu_exercise (scenarios/qemu_exercise.json) failed:\n"
            "  step 1 at scenarios/qemu_exercise.json:6: cat /dev/qemu_exercise\n"
            "    stdout: expected \"Hello from QEMU!\", got \"\"\n"
            "  step 2 at scenarios/qemu_exercise.json:7: echo oops > /dev/labctl_fault\n"
            "    exit code: expected 0, got 137 (killed by SIGKILL)\n"
            "  kernel_log /Received 12 characters/ did not match anywhere in the kernel log "
            "(300 lines)\n"
            "  kernel fault (oops): BUG: kernel NULL pointer dereference, address: 0\n"
            "  kernel oops during `echo oops > /dev/labctl_fault`: BUG: kernel NULL pointer "
            "dereference, address: 0\n"
            "    | BUG: kernel NULL pointer dereference, address: 0\n"
            "    | Oops: 0002 [#1] PREEMPT SMP NOPTI\n"
            "    | RIP: 0010:labctl_fault_write.cold+0x40/0x14a [labctl_fault]\n"
            "  debugcon output differs from the expected bytes:\n"
            "    --- scenarios/debugcon.expected\n"
            "    +++ /tmp/art/debugcon.txt\n"
            "    @@ -1 +1 @@\n"
            "    -hello\n"
            "    +HELLO\n"
            "  kernel 6.1.0-56-amd64, accel tcg (/dev/kvm is missing)\n"
            "  artifacts: /tmp/art/qemu_exercise\n");
}

TEST(ReportTerminal, ErrorExplanation) {
  EXPECT_EQ(failure_explanation(error_report()),
            "smoke (scenarios/smoke.json) could not run:\n"
            "  qemu-system-x86_64 not found (install qemu-system-x86)\n");
}

TEST(ReportTerminal, LongFaultReportsAreCut) {
  ScenarioReport r = error_report();
  r.verdict = "failed";
  std::string trace;
  for (int i = 0; i < 100; ++i)
    trace += "frame " + std::to_string(i) + "\n";
  r.faults.push_back({.kind = "panic", .title = "Kernel panic", .report = trace});
  std::string text = failure_explanation(r);
  EXPECT_NE(text.find("  kernel panic outside the steps: Kernel panic\n    | frame 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("    | frame 59\n    | [... 40 more lines]\n"), std::string::npos) << text;
}

TEST(ReportTerminal, UnprintableBytesDoNotReachTheTerminal) {
  ScenarioReport r = failed_report();
  r.steps[0].command = "printf '\\033[2J'\x1b[2J";
  r.faults[0].report = "bad\x1b]0;title\x07 bytes\xff\n";
  std::string text = failure_explanation(r);
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
  EXPECT_NE(text.find("bad\\x1b]0;title\\x07 bytes\\xff"), std::string::npos) << text;
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

TEST(ReportXml, FailureCarriesTheFirstFailureAndTheExplanation) {
  std::string xml = junit_xml({failed_report()});
  EXPECT_NE(xml.find("failures=\"1\" errors=\"0\""), std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"step 1: stdout: expected &quot;Hello from QEMU!&quot;, "
                     "got &quot;&quot;\" type=\"failed\">qemu_exercise "),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("    | Oops: 0002 [#1] PREEMPT SMP NOPTI\n"), std::string::npos);
  EXPECT_NE(xml.find("--- stderr\nKilled\n</system-out>"), std::string::npos) << xml;
}

TEST(ReportXml, HugeOutputIsCappedInSystemOut) {
  ScenarioReport r = passed_report();
  r.steps[0].out = std::string(1 << 20, 'x');
  std::string xml = junit_xml({r});
  EXPECT_LT(xml.size(), 100'000u);
  EXPECT_NE(xml.find("[... 983040 more bytes; the whole output is in the artifacts]"),
            std::string::npos);
}

// xmllint is the judge of well-formedness when it is installed.
TEST(ReportXml, WellFormedEvenWithHostileContent) {
  ScenarioReport r = failed_report();
  r.name = "we<ird> & \"name\"";
  r.steps[0].out = std::string("\0\x01\x08\x0b\x0c\x0e\x1f\x7f]]><![CDATA[&amp;\xff\xfe\r\n", 29);
  r.steps[1].err = "\xed\xa0\x80 surrogate, \xef\xbf\xbf nonchar, \xc3\x28 broken";
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
      run_command({.argv = {xmllint.string(), "--noout", file.string()}}, std::chrono::seconds(30));
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_TRUE(run->status.success()) << run->err;
}

TEST(ReportJson, Schema) {
  Json j = to_json(std::vector<ScenarioReport>{passed_report(), failed_report(), error_report()});
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["summary"],
            Json({{"total", 3}, {"passed", 1}, {"failed", 1}, {"errors", 1}, {"seconds", 16.25}}));
  ASSERT_EQ(j["scenarios"].size(), 3u);
  const Json& failed = j["scenarios"][1];
  EXPECT_EQ(failed["name"], "qemu_exercise");
  EXPECT_EQ(failed["file"], "scenarios/qemu_exercise.json");
  EXPECT_EQ(failed["verdict"], "failed");
  EXPECT_EQ(failed["exit_code"], 1);
  EXPECT_EQ(failed["kernel"], "6.1.0-56-amd64");
  EXPECT_EQ(failed["accel"], "tcg");
  EXPECT_EQ(failed["accel_reason"], "/dev/kvm is missing");
  EXPECT_EQ(failed["artifacts"], "/tmp/art/qemu_exercise");
  EXPECT_EQ(failed["failures"].size(), 2u);
  EXPECT_EQ(failed["faults"][0]["kind"], "oops");
  EXPECT_EQ(failed["faults"][0]["step"], "echo oops > /dev/labctl_fault");
  EXPECT_EQ(failed["steps"][1],
            Json({{"command", "echo oops > /dev/labctl_fault"},
                  {"line", 7},
                  {"exit_code", 137},
                  {"stdout", ""},
                  {"stderr", "Killed\n"},
                  {"seconds", 0.3},
                  {"timed_out", false},
                  {"failures", {"exit code: expected 0, got 137 (killed by SIGKILL)"}}}));
  EXPECT_EQ(failed["debugcon_diff"], failed_report().debugcon_diff);
}

TEST(ReportJson, BinaryOutputKeepsItsExactBytes) {
  ScenarioReport r = passed_report();
  r.steps[0].out = std::string("bin\0\xff\xfe\n", 7);
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
  std::vector<ScenarioReport> reports = {passed_report(), failed_report(), error_report()};
  reports[0].steps[0].out = std::string("bin\0\xff\xfe\n", 7);
  reports[0].steps[0].err = "x";
  reports[1].steps[0].out = "ab";
  reports[1].steps[0].err = "abc";
  reports[1].steps[1].out = "\xc3\xa9t\xc3\xa9\t\x01";
  reports[1].steps[1].timed_out = true;
  reports[0].build_warnings = {
      {"/src/warning", "/src/warning/warning.c:12:13: warning: unused variable 'x'\n"}};
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
