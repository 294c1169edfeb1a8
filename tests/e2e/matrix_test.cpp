// `labctl run --kernel all`: every scenario on every installed kernel (6.1 and 6.12 on CI), in
// one run booting the real kernels, whose results the checks below share (ctest runs each
// TEST in its own process, so they are one TEST: the run costs CI once).
#include "e2e_support.h"
#include "host/kernel_locator.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

namespace labctl::e2e {
namespace {

const char* const k_shipped[] = {"debugcon", "debugcon-exclusive", "qemu_exercise", "smoke"};

class Matrix : public ::testing::Test {
protected:
  struct Shared {
    TempDir dir{"labctl-e2e-matrix"};
    std::vector<std::string> releases; // oldest first, as --kernel all runs them
    LabctlRun run;
    std::string junit;
    Json json;
  };
  static inline Shared* s = nullptr;

  static void SetUpTestSuite() {
    s = new Shared;
    for (const auto& k : find_kernels({}))
      s->releases.push_back(k.version);
    if (s->releases.size() < 2)
      return;
    fs::path art = s->dir.path() / "art";
    s->run = labctl({"run", "--kernel", "all", "-j", "2", "--keep-going", "--artifacts",
                     art.string(), "--junit", (s->dir.path() / "r.xml").string(), "--json",
                     (s->dir.path() / "r.json").string(), "scenarios/",
                     "tests/scenarios/matrix-old-class-api.json",
                     "tests/scenarios/matrix-new-only.json"});
    if (auto x = read_file(s->dir.path() / "r.xml"))
      s->junit = *x;
    if (auto j = read_file(s->dir.path() / "r.json"))
      s->json = Json::parse(*j, nullptr, false);
  }
  static void TearDownTestSuite() {
    delete s;
    s = nullptr;
  }
  void SetUp() override {
    if (s->releases.size() < 2)
      GTEST_SKIP() << "needs two kernels with headers (scripts/setup.sh installs 6.1 and 6.12)";
  }
  const std::string& old_kernel() const { return s->releases.front(); }
  const std::string& new_kernel() const { return s->releases.back(); }
  fs::path artifacts() const { return s->dir.path() / "art"; }
  // The JSON report's entry named `name`, or null.
  const Json* entry(const std::string& name) const {
    if (!s->json.contains("scenarios"))
      return nullptr;
    for (const auto& e : s->json["scenarios"])
      if (e["name"] == name)
        return &e;
    return nullptr;
  }

  void shipped_scenarios_pass_on_every_kernel_each_its_own_result() {
    const auto& out = s->run.out;
    for (const auto& release : s->releases)
      for (auto name : k_shipped) {
        std::string result = std::string(name) + "@" + release;
        EXPECT_NE(out.find("PASS  " + result + "  ("), std::string::npos) << result << "\n" << out;
        EXPECT_NE(s->junit.find("<testcase classname=\"labctl\" name=\"" + result + "\""),
                  std::string::npos)
            << result;
        const Json* e = entry(result);
        ASSERT_NE(e, nullptr) << result;
        EXPECT_EQ((*e)["verdict"], "passed") << result;
        EXPECT_EQ((*e)["kernel"], release) << result;
        EXPECT_EQ((*e)["kernel_image"], "/boot/vmlinuz-" + release) << result;
        EXPECT_EQ((*e)["artifacts"], (artifacts() / result).string());
        EXPECT_TRUE(fs::exists(artifacts() / result / "console.log")) << result;
        EXPECT_TRUE(fs::exists(artifacts() / result / "result.json")) << result;
      }
    // The guest really ran each kernel: its own boot log says which.
    for (const auto& release : s->releases) {
      auto console = read_file(artifacts() / ("smoke@" + release) / "console.log");
      ASSERT_TRUE(console.ok());
      EXPECT_NE(console->find("Linux version " + release), std::string::npos) << release;
    }
    // 6 scenarios on each kernel, 2 x 6 results.
    ASSERT_TRUE(s->json.contains("summary")) << s->run.out << s->run.err;
    EXPECT_EQ(s->json["summary"]["total"], 2 * 6);
    EXPECT_EQ(s->json["scenarios"].size(), 2u * 6);
    EXPECT_EQ(report_schema_problems(s->dir.path() / "r.json"), "");
  }

  void a_module_for_old_kernels_fails_on_the_new_one_only_at_its_line() {
    EXPECT_EQ(s->run.exit_code, 1) << s->run.out << s->run.err;
    const Json* old_pair = entry("matrix-old-class-api@" + old_kernel());
    const Json* new_pair = entry("matrix-old-class-api@" + new_kernel());
    ASSERT_NE(old_pair, nullptr);
    ASSERT_NE(new_pair, nullptr);
    EXPECT_EQ((*old_pair)["verdict"], "passed") << old_pair->dump(2);
    EXPECT_EQ((*new_pair)["verdict"], "failed") << new_pair->dump(2);
    std::string failures = (*new_pair)["failures"].dump();
    EXPECT_NE(failures.find("old_class_api.c:15"), std::string::npos) << failures;
    EXPECT_NE(failures.find("class_create"), std::string::npos) << failures;
    // The terminal says it under that pair's FAIL line, and the counts add up.
    const auto& out = s->run.out;
    EXPECT_NE(out.find("FAIL  matrix-old-class-api@" + new_kernel()), std::string::npos) << out;
    EXPECT_NE(out.find("old_class_api.c:15"), std::string::npos) << out;
    EXPECT_NE(out.find("10 passed, 1 failed, 1 skipped"), std::string::npos) << out;
  }

  void a_kernels_restriction_skips_with_the_reason() {
    std::string reason = "kernels '>=6.4' excludes " + old_kernel();
    const Json* skipped = entry("matrix-new-only@" + old_kernel());
    const Json* ran = entry("matrix-new-only@" + new_kernel());
    ASSERT_NE(skipped, nullptr);
    ASSERT_NE(ran, nullptr);
    EXPECT_EQ((*skipped)["verdict"], "skipped");
    EXPECT_EQ((*skipped)["skip_reason"], reason);
    EXPECT_EQ((*skipped)["kernel"], old_kernel());
    EXPECT_EQ((*ran)["verdict"], "passed") << ran->dump(2);
    EXPECT_NE(s->run.out.find("SKIP  matrix-new-only@" + old_kernel() + "  (" + reason + ")"),
              std::string::npos)
        << s->run.out;
    EXPECT_NE(s->junit.find("<skipped message=\"kernels &apos;&gt;=6.4&apos; excludes " +
                            old_kernel() + "\"/>"),
              std::string::npos)
        << s->junit;
    EXPECT_FALSE(fs::exists(artifacts() / ("matrix-new-only@" + old_kernel())))
        << "nothing ran for a skipped pair";
  }
};

TEST_F(Matrix, EveryScenarioOnEveryKernelInOneRun) {
  {
    SCOPED_TRACE("the shipped scenarios pass on every kernel, each its own result");
    shipped_scenarios_pass_on_every_kernel_each_its_own_result();
  }
  {
    SCOPED_TRACE("a module for kernels before 6.4 fails on the new one only, at its line");
    a_module_for_old_kernels_fails_on_the_new_one_only_at_its_line();
  }
  {
    SCOPED_TRACE("a kernels restriction skips with the reason");
    a_kernels_restriction_skips_with_the_reason();
  }
}

} // namespace
} // namespace labctl::e2e
