// Steps declared to end the guest ("ends_guest", docs/scenario.md): a panic, a power-off and
// a reset pass when exactly that happens, on the real kernel; a step that returns fails.
#include "e2e_support.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

namespace labctl::e2e {
namespace {

class GuestEnds : public ::testing::Test {
protected:
  TempDir dir{"labctl-e2e-guest-ends"};
  fs::path artifacts = dir.path() / "artifacts";
  LabctlRun run(const std::string& name, const std::string& json) {
    auto scenario = dir.path() / (name + ".json");
    EXPECT_TRUE(write_file_atomic(scenario, json).ok());
    return labctl({"run", "--artifacts", artifacts.string(), scenario.string()});
  }
  Json result(const std::string& name) {
    auto text = read_file(artifacts / name / "result.json");
    EXPECT_TRUE(text.ok());
    return text.ok() ? Json::parse(*text)["scenarios"][0] : Json();
  }
  void TearDown() override {
    EXPECT_EQ(qemu_processes_using(dir.path().string()), 0) << "a QEMU process outlived the run";
  }
};

TEST_F(GuestEnds, PanicViaSysrqPasses) {
  auto r =
      labctl({"run", "--artifacts", artifacts.string(), "tests/scenarios/panic-expected.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
  EXPECT_EQ(report_schema_problems(artifacts / "panic-expected" / "result.json"), "");
  auto text = read_file(artifacts / "panic-expected" / "result.json");
  ASSERT_TRUE(text.ok());
  auto json = Json::parse(*text)["scenarios"][0];
  ASSERT_EQ(json["faults"].size(), 1u) << json["faults"].dump(2);
  EXPECT_EQ(json["faults"][0]["kind"], "panic");
  EXPECT_EQ(json["faults"][0]["step_index"], 2);
  EXPECT_NE(json["faults"][0]["title"].get<std::string>().find("sysrq triggered crash"),
            std::string::npos);
}

TEST_F(GuestEnds, PoweroffPasses) {
  auto r = run("poweroff", R"J({"steps": [
    {"run": "poweroff -f", "ends_guest": "poweroff"}
  ]})J");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto json = result("poweroff");
  EXPECT_EQ(json["verdict"], "passed");
  EXPECT_EQ(json["faults"], Json::array());
}

TEST_F(GuestEnds, ResetPasses) {
  auto r = run("reset", R"J({"steps": [
    {"run": "reboot -f", "ends_guest": "reset"}
  ]})J");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(result("reset")["verdict"], "passed");
}

TEST_F(GuestEnds, StepDeclaredFatalThatReturnsFails) {
  auto r = run("returns", R"J({"steps": [
    {"run": "echo still here", "ends_guest": "panic"}
  ]})J");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("expected the guest to panic during this step (\"ends_guest\": \"panic\"), "
                       "but the step returned (exit code 0); last stdout: \"still here\\n\""),
            std::string::npos)
      << r.out;
}

// Powering off where a panic was declared is not the declared end.
TEST_F(GuestEnds, AnotherEndFails) {
  auto r = run("other", R"J({"steps": [
    {"run": "poweroff -f", "ends_guest": "panic"}
  ]})J");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("expected the guest to panic during this step (\"ends_guest\": \"panic\"), "
                       "but the guest powered off (exit code 0)"),
            std::string::npos)
      << r.out;
}

} // namespace
} // namespace labctl::e2e
