// The debug profile (configs/debug.json, docs/profile.md): on both Debian kernels SLUB's
// debugging reports each memory bug of tests/kmod/labctl_slab as a slub fault of its step,
// naming the module's functions; the default profile's kernel stays silent on the overrun
// and the use-after-free write.
#include "e2e_support.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace labctl::e2e {
namespace {

class MemoryDebug : public ::testing::TestWithParam<std::string> {
protected:
  TempDir artifacts{"labctl-e2e-memdebug"};
  std::string release;
  void SetUp() override {
    release = installed_kernel_of_series(GetParam());
    if (release.empty())
      GTEST_SKIP() << "no " << GetParam() << " kernel installed";
  }
  // Each profile's artifacts in a folder of its own.
  LabctlRun run(const std::string& profile, const std::string& scenario) {
    return labctl({"run", "--profile", profile, "--kernel", release, "--artifacts",
                   (artifacts.path() / profile).string(), "tests/scenarios/" + scenario + ".json"});
  }
  Json result(const std::string& profile, const std::string& scenario) {
    auto text = read_file(artifacts.path() / profile / scenario / "result.json");
    EXPECT_TRUE(text.ok()) << scenario;
    return text.ok() ? Json::parse(*text)["scenarios"][0] : Json();
  }
  void TearDown() override {
    EXPECT_EQ(qemu_processes_using(artifacts.path().string()), 0)
        << "a QEMU process outlived the run";
  }
};

TEST_P(MemoryDebug, EachBugIsReportedAsASlubFaultOfItsStep) {
  auto r = run("debug", "slab-bugs");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(report_schema_problems(artifacts.path() / "debug" / "slab-bugs" / "result.json"), "");
  auto json = result("debug", "slab-bugs");
  EXPECT_EQ(json["kernel"], release);
  const Json& faults = json["faults"];
  // What each step must have made SLUB say (6.1 puts it in the header; 6.12 says "Object
  // corrupt" and labctl appends the reason line), and the module function SLUB names.
  const std::vector<std::pair<std::string, std::string>> wanted = {
      {"Right Redzone overwritten", "labctl_slab_overrun+"},
      {"Poison overwritten", "labctl_slab_uaf+"},
      {"Object already free", "labctl_slab_double_free+"}};
  for (size_t step = 1; step <= wanted.size(); ++step) {
    const auto& [what, function] = wanted[step - 1];
    bool found = false;
    for (const auto& f : faults) {
      if (f["step_index"] != step || f["title"].get<std::string>().find(what) == std::string::npos)
        continue;
      found = true;
      EXPECT_EQ(f["kind"], "slub") << f.dump(2);
      std::string report = f["report"].get<std::string>();
      EXPECT_NE(report.find("Allocated in " + function), std::string::npos) << report;
      EXPECT_NE(report.find("[labctl_slab]"), std::string::npos) << report;
    }
    EXPECT_TRUE(found) << "step " << step << ": no slub fault saying '" << what << "'\n"
                       << faults.dump(2);
  }
  for (const auto& f : faults)
    EXPECT_EQ(f["kind"], "slub") << f.dump(2);
}

// The contrast: the same overrun and use-after-free write pass unnoticed on the default
// profile and fail the run with the debug profile.
TEST_P(MemoryDebug, OverrunAndUseAfterFreeAreSilentWithoutTheDebugProfile) {
  auto plain = run("default", "slab-unnoticed");
  EXPECT_EQ(plain.exit_code, 0) << plain.out << plain.err;
  EXPECT_EQ(result("default", "slab-unnoticed")["faults"], Json::array());

  auto debug = run("debug", "slab-unnoticed");
  EXPECT_EQ(debug.exit_code, 1) << debug.out << debug.err;
  EXPECT_NE(debug.out.find("kernel fault (slub): BUG kmalloc-8 ("), std::string::npos) << debug.out;
  EXPECT_NE(debug.out.find("Right Redzone overwritten"), std::string::npos) << debug.out;
  EXPECT_NE(debug.out.find("kernel fault (slub): BUG labctl_slab_uaf ("), std::string::npos)
      << debug.out;
  EXPECT_NE(debug.out.find("Poison overwritten"), std::string::npos) << debug.out;
  auto cmdline = read_file(artifacts.path() / "debug" / "slab-unnoticed" / "qemu.cmdline");
  ASSERT_TRUE(cmdline.ok());
  EXPECT_NE(cmdline->find("slub_debug=FZPU"), std::string::npos) << *cmdline;
}

INSTANTIATE_TEST_SUITE_P(Kernels, MemoryDebug, ::testing::Values("6.1", "6.12"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return "linux_" + name;
                         });

} // namespace
} // namespace labctl::e2e
