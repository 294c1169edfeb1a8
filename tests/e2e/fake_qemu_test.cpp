// The host side against a fake QEMU (tests/fake_qemu/fake-qemu) that replays recorded
// consoles of the real kernel and speaks the control protocol: no VM, so each is quick.
#include "e2e_support.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

namespace labctl::e2e {
namespace {

class FakeQemu : public ::testing::Test {
protected:
  TempDir dir{"labctl-e2e-fake"};
  fs::path artifacts = dir.path() / "artifacts";

  fs::path profile(int boot_timeout = 20) {
    return write_fake_qemu_profile(dir.path(), boot_timeout);
  }
  fs::path scenario(const std::string& json) {
    auto p = dir.path() / "s.json";
    EXPECT_TRUE(write_file_atomic(p, json).ok());
    return p;
  }
  LabctlRun run(const std::string& mode, const std::string& scenario_json, int boot_timeout = 20,
                std::vector<std::pair<std::string, std::string>> env = {}) {
    env.emplace_back("FAKE_QEMU_MODE", mode);
    return labctl({"--profile", profile(boot_timeout).string(), "run", "--artifacts",
                   artifacts.string(), scenario(scenario_json).string()},
                  env, std::chrono::seconds(120));
  }
  void TearDown() override {
    EXPECT_EQ(processes_using(dir.path().string()), 0) << "a process outlived the run";
  }
};

constexpr const char* k_one_step =
    R"({"steps": [{"run": "echo hi", "stdout": "hi", "timeout": 2}]})";

TEST_F(FakeQemu, StepsReturnExactBytesAndExitCodes) {
  auto r = run("ok", R"({"steps": [
    {"run": "printf 'no newline'", "stdout": "no newline"},
    {"run": "printf 'a\\000b\\377' | od -An -tx1 | tr -d ' \\n'", "stdout": "610062ff"},
    {"run": "echo out; echo err >&2; exit 3", "exit": 3, "stdout": "out", "stderr": "err"},
    {"run": "head -c 1048576 /dev/zero | tr '\\0' x", "stdout": ")" +
                         std::string(1 << 20, 'x') + R"("}
  ]})");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
}

TEST_F(FakeQemu, FailingExpectationNamesStepAndValues) {
  auto r = run("ok", R"({"steps": [
    {"run": "true"},
    {"run": "echo got", "stdout": "wanted"}
  ]})");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("s.json:3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wanted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("got"), std::string::npos) << r.out;
}

TEST_F(FakeQemu, QemuThatCannotStartIsEnvironmentErrorWithItsStderr) {
  auto r = run("bad_option", k_one_step);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("-bogus: invalid option"), std::string::npos) << r.out << r.err;
}

TEST_F(FakeQemu, BootThatNeverReachesInitTimesOutWithConsoleTail) {
  auto r = run("hang_boot", k_one_step, 3);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("never reached init"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  | "), std::string::npos) << "no console lines shown\n" << r.out;
}

TEST_F(FakeQemu, DamagedBootReportStopsAtOnceAndSaysWhat) {
  // A boot timeout of 60 s: the run must end long before it, naming the damaged line.
  auto started = std::chrono::steady_clock::now();
  auto r = run("damaged_boot", k_one_step, 60);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("the boot report from init was damaged (unknown boot report on the "
                       "control channel: "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("MOD=x=GARBLED"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("never reached init"), std::string::npos) << r.out;
  EXPECT_LT(seconds, 30) << r.out;
}

TEST_F(FakeQemu, PanicDuringBootIsNamedWithItsText) {
  auto r = run("panic_boot", k_one_step, 20,
               {{"FAKE_QEMU_CONSOLE", (tests_dir() / "data/console/panic.log").string()}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("Kernel panic - not syncing"), std::string::npos) << r.out;
}

TEST_F(FakeQemu, QemuDyingMidStepFailsThatStep) {
  auto r = run("die_mid_step", k_one_step);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("QEMU exited"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("echo hi"), std::string::npos) << r.out;
}

TEST_F(FakeQemu, GarbageOnTheControlChannelIsNotTakenForAnAnswer) {
  auto r = run("garbage", k_one_step);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out.find("PASS"), std::string::npos) << r.out;
}

TEST_F(FakeQemu, SilentGuestFailsAtStepTimeoutPlusGrace) {
  auto r = run("hang_step", k_one_step);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("timed out after 2 s"), std::string::npos) << r.out;
}

TEST_F(FakeQemu, OopsOnTheConsoleIsAttributedToTheRunningStep) {
  auto r = run("oops_step", k_one_step);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("BUG: kernel NULL pointer dereference"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kernel oops during step 1 (`echo hi`, " + (dir.path() / "s.json").string() +
                       ":1)"),
            std::string::npos)
      << r.out;
}

TEST_F(FakeQemu, ModuleLoadFailureShowsInsmodError) {
  auto r = run("module_fail", k_one_step);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("unknown symbol in module"), std::string::npos) << r.out;
}

// The steps a failure kept from running are named, by command, in every report (issue 14).
TEST_F(FakeQemu, StepsAfterAFailedStepAreListedAsNotRunInEveryReport) {
  auto junit = dir.path() / "junit.xml";
  auto json = dir.path() / "report.json";
  auto r = labctl({"--profile", profile().string(), "run", "--artifacts", artifacts.string(),
                   "--junit", junit.string(), "--json", json.string(),
                   scenario(R"({"steps": [
    {"run": "echo one", "stdout": "one"},
    {"run": "echo oops >&2; echo two", "stdout": "deux"},
    {"run": "echo three", "stdout": "three"},
    {"run": "echo four"}
  ]})")
                       .string()},
                  {{"FAKE_QEMU_MODE", "ok"}}, std::chrono::seconds(120));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // The mismatch shows stderr and the exit code too.
  EXPECT_NE(
      r.out.find("stdout: expected \"deux\", got \"two\"; stderr was \"oops\\n\"; exit code 0"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  not run (step 2 failed):\n"
                       "    step 3 at " +
                       (dir.path() / "s.json").string() +
                       ":4: echo three\n"
                       "    step 4 at " +
                       (dir.path() / "s.json").string() + ":5: echo four\n"),
            std::string::npos)
      << r.out;
  auto xml = read_file(junit);
  ASSERT_TRUE(xml.ok());
  EXPECT_NE(xml->find(R"(name="step 3: echo three")"), std::string::npos) << *xml;
  EXPECT_NE(xml->find(R"(<skipped message="not run: step 2 failed"/>)"), std::string::npos) << *xml;
  EXPECT_EQ(report_schema_problems(json), "");
  auto report = read_file(json);
  ASSERT_TRUE(report.ok());
  Json parsed = Json::parse(*report);
  const Json& skipped = parsed["scenarios"][0]["skipped_steps"];
  ASSERT_EQ(skipped.size(), 2u) << skipped.dump();
  EXPECT_EQ(skipped[0]["command"], "echo three");
  EXPECT_EQ(skipped[0]["line"], 4);
  EXPECT_EQ(skipped[1]["reason"], "step 2 failed");
}

TEST_F(FakeQemu, AModuleThatDidNotLoadNamesItsErrnoAndTheStepsNotRun) {
  auto r = run("module_fail", k_one_step, 20,
               {{"FAKE_QEMU_INSMOD_ERROR",
                 "insmod: can't insert '/lib/modules/6.1.0-fake/extra/x.ko': Unknown error 517"}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("Unknown error 517 (EPROBE_DEFER: probe deferred"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  not run (module x did not load):\n    step 1 at "), std::string::npos)
      << r.out;
}

// Every scenario runs by default; --fail-fast stops after the first failure and the summary
// names what it did not run.
TEST_F(FakeQemu, EveryScenarioRunsUnlessFailFastWhichNamesTheScenariosNotRun) {
  auto write = [&](const std::string& name, const std::string& json) {
    auto p = dir.path() / (name + ".json");
    EXPECT_TRUE(write_file_atomic(p, json).ok());
    return p.string();
  };
  std::string a = write("a-fails", R"({"steps": [{"run": "false"}]})");
  std::string b = write("b-passes", k_one_step);
  std::string c = write("c-passes", k_one_step);
  auto all = labctl({"--profile", profile().string(), "run", "-j", "1", "--artifacts",
                     artifacts.string(), a, b, c},
                    {{"FAKE_QEMU_MODE", "ok"}}, std::chrono::seconds(120));
  EXPECT_EQ(all.exit_code, 1) << all.out << all.err;
  EXPECT_NE(all.out.find("FAIL  a-fails"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("PASS  b-passes"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("2 passed, 1 failed\n"), std::string::npos) << all.out;
  auto fast = labctl({"--profile", profile().string(), "run", "-j", "1", "--fail-fast",
                      "--artifacts", artifacts.string(), a, b, c},
                     {{"FAKE_QEMU_MODE", "ok"}}, std::chrono::seconds(120));
  EXPECT_EQ(fast.exit_code, 1) << fast.out << fast.err;
  EXPECT_EQ(fast.out.find("b-passes  ("), std::string::npos) << fast.out;
  EXPECT_NE(fast.out.find("0 passed, 1 failed, 2 not run (--fail-fast stopped at the first "
                          "failure): b-passes, c-passes\n"),
            std::string::npos)
      << fast.out;
  // --keep-going is the default, and contradicts --fail-fast.
  auto both = labctl({"--profile", profile().string(), "run", "--fail-fast", "--keep-going", a});
  EXPECT_EQ(both.exit_code, 2) << both.out << both.err;
}

TEST_F(FakeQemu, BootTimeoutNamesTheTimeoutThatEndedIt) {
  // The scenario's own timeout (2 s) is shorter than the profile's boot_timeout (20 s).
  auto r = run("hang_boot", R"({"timeout": 2, "steps": [{"run": "true"}]})", 20);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("no READY within the scenario's timeout of 2 s, key 'timeout' in"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("20 s"), std::string::npos) << r.out;
  auto by_profile = run("hang_boot", k_one_step, 3);
  EXPECT_NE(by_profile.out.find("no READY within the profile's boot_timeout of 3 s, "),
            std::string::npos)
      << by_profile.out;
  EXPECT_NE(by_profile.out.find("fake.json"), std::string::npos) << by_profile.out;
}

TEST_F(FakeQemu, AgentDeathIsNamedNotCalledAHang) {
  auto r = run("agent_dies", R"({"steps": [{"run": "echo hi", "stdout": "hi", "timeout": 30}]})");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("the guest agent died (killed by signal 9; init restarts it) while the "
                       "step ran"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("may be hung"), std::string::npos) << r.out;
}

TEST_F(FakeQemu, DamagedAnswerFailsTheStepAsDamaged) {
  auto r = run("damaged_step", R"({"steps": [{"run": "echo hi; exit 0"}]})");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("answer from the guest was damaged: stdout (3 bytes) has CRC-32"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("PASS"), std::string::npos) << r.out;
}

TEST_F(FakeQemu, JunkBeforeEveryAnswerSwallowsNone) {
  auto r = run("junk_step", R"({"steps": [
    {"run": "echo one", "stdout": "one"},
    {"run": "echo two; exit 7", "stdout": "two", "exit": 7}
  ]})");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
}

TEST_F(FakeQemu, MissingExitStatusIsExplainedNotMinusOne) {
  auto r = run("lost_step", k_one_step);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("the step's exit status was lost"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("got -1"), std::string::npos) << r.out;
}

TEST_F(FakeQemu, ClosedConsoleDoesNotHangTheRun) {
  auto r = run("close_stdout", k_one_step);
  EXPECT_NE(r.exit_code, -1);
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.out << r.err;
}

} // namespace
} // namespace labctl::e2e
