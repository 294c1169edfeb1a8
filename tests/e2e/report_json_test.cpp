// The --json report and result.json as labctl really writes them, checked against
// docs/report-json.schema.json (tests/check_report_json.py): ReportSchema uses a fake QEMU
// (e2e-novm), ReportSchemaVm boots the real kernel.
#include "e2e_support.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

namespace labctl::e2e {
namespace {

class ReportSchema : public ::testing::Test {
protected:
  TempDir dir{"labctl-e2e-report"};
  fs::path artifacts = dir.path() / "artifacts";
  fs::path json = dir.path() / "report.json";

  fs::path profile() { return write_fake_qemu_profile(dir.path()); }
  fs::path scenario(const std::string& name, const std::string& text) {
    auto p = dir.path() / (name + ".json");
    EXPECT_TRUE(write_file_atomic(p, text).ok());
    return p;
  }
  // labctl run --json with the fake QEMU in `mode`; the report, parsed.
  Json run(const std::string& mode, const std::vector<fs::path>& scenarios, int expected_exit) {
    std::vector<std::string> args = {"--profile",   profile().string(), "run",    "--keep-going",
                                     "--artifacts", artifacts.string(), "--json", json.string()};
    for (const auto& s : scenarios)
      args.push_back(s.string());
    auto r = labctl(args, {{"FAKE_QEMU_MODE", mode}}, std::chrono::seconds(120));
    EXPECT_EQ(r.exit_code, expected_exit) << r.out << r.err;
    EXPECT_EQ(report_schema_problems(json), "");
    for (const auto& s : scenarios)
      EXPECT_EQ(report_schema_problems(artifacts / s.stem() / "result.json"), "") << s;
    auto text = read_file(json);
    EXPECT_TRUE(text.ok());
    return text.ok() ? Json::parse(*text) : Json();
  }
  void TearDown() override {
    EXPECT_EQ(processes_using(dir.path().string()), 0) << "a process outlived the run";
  }
};

// The checker is a real judge: it refuses the shapes labctl used to write by mistake.
TEST_F(ReportSchema, CheckerRefusesWhatTheDocsDoNotAllow) {
  Json report = {
      {"version", 1},
      {"exit_code", 1},
      {"summary",
       {{"total", 1},
        {"passed", 0},
        {"failed", 1},
        {"errors", 0},
        {"skipped", 0},
        {"seconds", 1.5}}},
      {"scenarios",
       {{{"name", "s"},
         {"file", "s.json"},
         {"verdict", "failed"},
         {"exit_code", 1},
         {"skip_reason", ""},
         {"seconds", 1.5},
         {"kernel", "6.1.0-56-amd64"},
         {"kernel_image", "/boot/vmlinuz-6.1.0-56-amd64"},
         {"accel", "tcg"},
         {"accel_reason", ""},
         {"artifacts", "a/s"},
         {"failures", {"kernel fault (oops): Oops"}},
         {"steps",
          {{{"command", "echo oops > /dev/labctl_fault"},
            {"line", 6},
            {"exit_code", 137},
            {"stdout", ""},
            {"stderr", ""},
            {"seconds", 0.2},
            {"timed_out", false},
            {"failures", Json::array()}}}},
         {"skipped_steps",
          Json::array({{{"command", "echo after"}, {"line", 7}, {"reason", "step 1 failed"}}})},
         {"kernel_log_lost", 0},
         {"faults",
          {{{"kind", "oops"},
            {"title", "Oops"},
            {"report", "Oops\nRIP: 0010:m_write+0x15/0x30 [m]\n"},
            {"phase", "step"},
            {"step_index", 1},
            {"step", "echo oops > /dev/labctl_fault"},
            {"frames",
             {{{"frame", "m_write+0x15/0x30 [m]"},
               {"function", "m_write"},
               {"offset", 21},
               {"size", 48},
               {"module", "m"},
               {"exact", true},
               {"reliable", true},
               {"user", true},
               {"source",
                {{{"function", "m_write"},
                  {"file", "/src/m/m.c"},
                  {"line", 42},
                  {"column", 3}}}}}}}}}},
         {"debugcon_diff", ""},
         {"timeline",
          Json::array({Json::array({"qemu_started", 0.0}), Json::array({"qemu_exited", 1.4})})},
         {"build_warnings",
          Json::array({{{"module", "kmod/m"}, {"warnings", "m.c:3:5: warning: unused"}}})},
         {"dkms_packages",
          Json::array({{{"module", "dkms/p"}, {"package", "p"}, {"version", "1.0"}}})}}}}};
  auto check = [&](const Json& j) {
    auto file = dir.path() / "r.json";
    EXPECT_TRUE(write_file_atomic(file, j.dump()).ok());
    return report_schema_problems(file);
  };
  ASSERT_EQ(check(report), "") << "the well-formed report must pass";

  Json image_as_kernel = report;
  image_as_kernel["scenarios"][0]["kernel"] = "/boot/vmlinuz-6.1.0-56-amd64";
  EXPECT_NE(check(image_as_kernel).find(".scenarios[0].kernel: "), std::string::npos)
      << check(image_as_kernel);

  Json label_as_step = report;
  label_as_step["scenarios"][0]["faults"][0]["step"] = "step 1 (s.json:6)";
  EXPECT_NE(check(label_as_step).find(".scenarios[0].faults[0].step: "), std::string::npos)
      << check(label_as_step);

  Json step_out_of_range = report;
  step_out_of_range["scenarios"][0]["faults"][0]["step_index"] = 2;
  EXPECT_NE(check(step_out_of_range).find(".scenarios[0].faults[0].step_index: "),
            std::string::npos)
      << check(step_out_of_range);

  Json frame_not_in_report = report;
  frame_not_in_report["scenarios"][0]["faults"][0]["frames"][0]["frame"] = "x+0x1/0x2 [m]";
  EXPECT_NE(check(frame_not_in_report).find(".scenarios[0].faults[0].frames[0].frame: "),
            std::string::npos)
      << check(frame_not_in_report);
  Json user_frame_of_no_module = report;
  user_frame_of_no_module["scenarios"][0]["faults"][0]["frames"][0]["module"] = "";
  EXPECT_NE(check(user_frame_of_no_module).find(".scenarios[0].faults[0].frames[0].user: "),
            std::string::npos)
      << check(user_frame_of_no_module);
  Json source_without_line = report;
  source_without_line["scenarios"][0]["faults"][0]["frames"][0]["source"][0].erase("line");
  EXPECT_NE(check(source_without_line).find("'line' is a required property"), std::string::npos)
      << check(source_without_line);

  Json unknown_kind = report;
  unknown_kind["scenarios"][0]["faults"][0]["kind"] = "opps";
  EXPECT_NE(check(unknown_kind).find(".scenarios[0].faults[0].kind: "), std::string::npos);

  Json undocumented_key = report;
  undocumented_key["scenarios"][0]["boot_image"] = "/x";
  EXPECT_NE(check(undocumented_key).find("boot_image"), std::string::npos);

  // Skipped steps come after the steps that ran and share what stopped them.
  Json skipped_before_ran = report;
  skipped_before_ran["scenarios"][0]["skipped_steps"][0]["line"] = 5;
  EXPECT_NE(check(skipped_before_ran).find(".scenarios[0].skipped_steps: "), std::string::npos)
      << check(skipped_before_ran);
  Json two_reasons = report;
  two_reasons["scenarios"][0]["skipped_steps"].push_back(
      {{"command", "echo later"}, {"line", 8}, {"reason", "interrupted"}});
  EXPECT_NE(check(two_reasons).find("2 reasons"), std::string::npos) << check(two_reasons);
  Json lost_negative = report;
  lost_negative["scenarios"][0]["kernel_log_lost"] = -1;
  EXPECT_NE(check(lost_negative).find(".scenarios[0].kernel_log_lost: "), std::string::npos);

  Json wrong_summary = report;
  wrong_summary["summary"]["failed"] = 0;
  EXPECT_NE(check(wrong_summary).find(".summary.failed: "), std::string::npos);

  // skipped: exit 0 and a reason; any other verdict: no reason.
  Json skipped_without_reason = report;
  skipped_without_reason["scenarios"][0]["verdict"] = "skipped";
  skipped_without_reason["scenarios"][0]["exit_code"] = 0;
  skipped_without_reason["exit_code"] = 0;
  skipped_without_reason["summary"]["failed"] = 0;
  skipped_without_reason["summary"]["skipped"] = 1;
  skipped_without_reason["scenarios"][0]["skipped_steps"] = Json::array();
  EXPECT_NE(check(skipped_without_reason).find(".scenarios[0].skip_reason: "), std::string::npos)
      << check(skipped_without_reason);
  Json skipped = skipped_without_reason;
  skipped["scenarios"][0]["skip_reason"] = "kernels '>=6.4' excludes 6.1.0-57-amd64";
  EXPECT_EQ(check(skipped), "");
  Json failed_with_reason = report;
  failed_with_reason["scenarios"][0]["skip_reason"] = "why";
  EXPECT_NE(check(failed_with_reason).find(".scenarios[0].skip_reason: "), std::string::npos)
      << check(failed_with_reason);

  Json warning_without_text = report;
  warning_without_text["scenarios"][0]["build_warnings"][0].erase("warnings");
  EXPECT_NE(check(warning_without_text).find(".scenarios[0].build_warnings[0]: "),
            std::string::npos)
      << check(warning_without_text);
  Json package_without_version = report;
  package_without_version["scenarios"][0]["dkms_packages"][0].erase("version");
  EXPECT_NE(check(package_without_version).find(".scenarios[0].dkms_packages[0]: "),
            std::string::npos)
      << check(package_without_version);
}

TEST_F(ReportSchema, PassingAndFailingScenarios) {
  auto pass = scenario("pass", R"({"steps": [{"run": "echo hi", "stdout": "hi"},
                                              {"run": "printf '\\377'"}]})");
  auto fail = scenario("fail", R"({"steps": [{"run": "true"},
                                              {"run": "echo got", "stdout": "wanted"}]})");
  Json j = run("ok", {pass, fail}, 1);
  ASSERT_EQ(j["scenarios"].size(), 2u) << j.dump(2);
  const Json& passed = j["scenarios"][0];
  EXPECT_EQ(passed["verdict"], "passed");
  // The release the guest announced (the fake says 6.1.0-fake), not the image's path.
  EXPECT_EQ(passed["kernel"], "6.1.0-fake");
  EXPECT_EQ(passed["kernel_image"], (dir.path() / "bzImage").string());
  EXPECT_EQ(passed["steps"][1]["stdout_base64"], "/w==");
  const Json& failed = j["scenarios"][1];
  EXPECT_EQ(failed["verdict"], "failed");
  ASSERT_EQ(failed["steps"].size(), 2u);
  EXPECT_FALSE(failed["steps"][1]["failures"].empty());
}

TEST_F(ReportSchema, OopsInAStepNamesTheStepsNumberAndCommand) {
  auto oops = scenario("oops", R"({"steps": [{"run": "echo oops > /dev/labctl_fault"},
                                              {"run": "echo never"}]})");
  Json j = run("oops_step", {oops}, 1);
  const Json& s = j["scenarios"][0];
  EXPECT_EQ(s["verdict"], "failed");
  EXPECT_EQ(s["steps"].size(), 1u) << "the run stops at the step the Oops killed";
  ASSERT_EQ(s["faults"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["faults"][0]["kind"], "oops");
  EXPECT_EQ(s["faults"][0]["phase"], "step");
  EXPECT_EQ(s["faults"][0]["step_index"], 1);
  EXPECT_EQ(s["faults"][0]["step"], "echo oops > /dev/labctl_fault");
}

TEST_F(ReportSchema, FaultDuringBootHasNoStep) {
  auto one = scenario("boot-fault", R"({"steps": [{"run": "echo hi", "stdout": "hi"}]})");
  Json j = run("fault_boot", {one}, 1);
  const Json& s = j["scenarios"][0];
  ASSERT_EQ(s["faults"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["faults"][0]["phase"], "boot");
  EXPECT_TRUE(s["faults"][0]["step_index"].is_null());
  EXPECT_EQ(s["faults"][0]["step"], "");
}

TEST_F(ReportSchema, BootThatNeverEndsStillWritesAValidReport) {
  auto one = scenario("hang", R"({"timeout": 5, "steps": [{"run": "true"}]})");
  Json j = run("hang_boot", {one}, 1);
  EXPECT_EQ(j["scenarios"][0]["steps"], Json::array());
  EXPECT_EQ(j["scenarios"][0]["kernel"], "") << "no release is known without a booted guest";
}

// The real kernel: a scenario that Oopses in a step and one that passes.
class ReportSchemaVm : public ::testing::Test {
protected:
  TempDir dir{"labctl-e2e-report-vm"};
  fs::path artifacts = dir.path() / "artifacts";
  fs::path json = dir.path() / "report.json";
  void TearDown() override {
    EXPECT_EQ(qemu_processes_using(dir.path().string()), 0) << "a QEMU process outlived the run";
  }
};

TEST_F(ReportSchemaVm, OopsAndPassOnTheRealKernel) {
  auto r = labctl({"run", "--keep-going", "--artifacts", artifacts.string(), "--json",
                   json.string(), "tests/scenarios/oops-in-step.json", "scenarios/debugcon.json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(report_schema_problems(json), "");
  EXPECT_EQ(report_schema_problems(artifacts / "oops-in-step" / "result.json"), "");
  EXPECT_EQ(report_schema_problems(artifacts / "debugcon" / "result.json"), "");
  auto text = read_file(json);
  ASSERT_TRUE(text.ok());
  Json j = Json::parse(*text);
  ASSERT_EQ(j["scenarios"].size(), 2u);
  const Json& oops = j["scenarios"][0];
  EXPECT_EQ(oops["verdict"], "failed");
  std::string kernel = oops["kernel"].get<std::string>();
  EXPECT_FALSE(kernel.empty());
  EXPECT_EQ(fs::path(oops["kernel_image"].get<std::string>()).filename().string(),
            "vmlinuz-" + kernel)
      << "kernel is the release of the image that booted";
  ASSERT_GE(oops["faults"].size(), 1u) << oops.dump(2);
  const Json& fault = oops["faults"][0];
  EXPECT_EQ(fault["kind"], "oops");
  EXPECT_NE(fault["title"].get<std::string>().find("BUG: kernel NULL pointer dereference"),
            std::string::npos);
  EXPECT_EQ(fault["phase"], "step");
  EXPECT_EQ(fault["step_index"], 2);
  EXPECT_EQ(fault["step"], "echo oops > /dev/labctl_fault");
  EXPECT_EQ(oops["steps"][1]["command"], "echo oops > /dev/labctl_fault");
  const Json& pass = j["scenarios"][1];
  EXPECT_EQ(pass["verdict"], "passed") << r.out;
  EXPECT_EQ(pass["kernel"], kernel);
  EXPECT_EQ(pass["faults"], Json::array());
}

} // namespace
} // namespace labctl::e2e
