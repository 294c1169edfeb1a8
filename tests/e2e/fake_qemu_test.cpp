// The host side against a fake QEMU (tests/fake_qemu/fake-qemu) that replays recorded
// consoles of the real kernel and speaks the control protocol: no VM, so each is quick.
#include "e2e_support.h"

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
