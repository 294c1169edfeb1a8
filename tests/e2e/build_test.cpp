// `labctl build` against the real Debian headers.
#include "e2e_support.h"

#include <gtest/gtest.h>

namespace labctl::e2e {
namespace {

std::string modinfo_field(const std::string& ko, const std::string& field) {
  auto r = run_command({.argv = {"/sbin/modinfo", "-F", field, ko}}, std::chrono::seconds(30));
  EXPECT_TRUE(r.ok());
  std::string v = r.ok() ? r->out : "";
  while (!v.empty() && v.back() == '\n')
    v.pop_back();
  return v;
}

class Build : public ::testing::Test {
protected:
  TempDir cache{"labctl-e2e-cache"};
  std::vector<std::pair<std::string, std::string>> env() const {
    return {{"LABCTL_CACHE_DIR", cache.path().string()}};
  }
};

TEST_F(Build, ShippedModulesBuildWithMatchingVermagic) {
  auto doctor = labctl({"doctor"});
  for (auto module : {"kmod/debugcon", "kmod/qemu_exercise"}) {
    auto r = labctl({"build", module}, env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string ko = r.out.substr(0, r.out.find('\n'));
    EXPECT_TRUE(ko.ends_with(".ko")) << ko;
    EXPECT_EQ(ko.rfind(cache.path().string(), 0), 0u) << "built outside the cache: " << ko;
    EXPECT_EQ(modinfo_field(ko, "license"), "GPL");
    std::string vermagic = modinfo_field(ko, "vermagic");
    // The kernel doctor reports is the one the module was built for.
    std::string kernel_line = doctor.out.substr(doctor.out.find("headers"));
    std::string release = kernel_line.substr(kernel_line.find("/lib/modules/") + 13);
    release = release.substr(0, release.find('/'));
    EXPECT_EQ(vermagic.substr(0, vermagic.find(' ')), release) << vermagic;
  }
}

TEST_F(Build, SecondBuildIsCachedAndSourceTreeStaysClean) {
  auto first = labctl({"build", "kmod/debugcon"}, env());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = labctl({"-v", "build", "kmod/debugcon"}, env());
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(first.out, second.out);
  EXPECT_EQ(second.err.find("spawn: make"), std::string::npos) << "the cached build ran make";
  EXPECT_NE(second.err.find("was cached"), std::string::npos) << second.err;
  for (const auto& entry : fs::recursive_directory_iterator(source_dir() / "kmod"))
    EXPECT_FALSE(entry.path().extension() == ".o" || entry.path().extension() == ".ko" ||
                 entry.path().filename() == "Module.symvers")
        << "build product in the source tree: " << entry.path();
}

TEST_F(Build, ChangedSourceRebuilds) {
  TempDir copy("labctl-e2e-mod");
  fs::copy(source_dir() / "kmod/debugcon", copy.path(), fs::copy_options::recursive);
  auto first = labctl({"build", copy.path().string()}, env());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto c = copy.path() / "debugcon.c";
  ASSERT_TRUE(write_file_atomic(c, *read_file(c) + "\n/* changed */\n").ok());
  auto second = labctl({"-v", "build", copy.path().string()}, env());
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(first.out, second.out);
  EXPECT_NE(second.err.find("spawn: make"), std::string::npos);
}

TEST_F(Build, CompileErrorPointsAtTheUsersFile) {
  auto r = labctl({"build", "tests/kmod/broken"}, env());
  EXPECT_EQ(r.exit_code, 1);
  std::string where = (source_dir() / "tests/kmod/broken/broken.c").string() + ":12:";
  EXPECT_NE(r.err.find(where), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("error:"), std::string::npos);
  EXPECT_EQ(r.err.find(cache.path().string() + "/modules/"), std::string::npos)
      << "compiler output still names the cache copy:\n" << r.err;
}

TEST_F(Build, MissingHeadersIsEnvironmentError) {
  TempDir dir("labctl-e2e-prof");
  auto profile = dir.path() / "p.json";
  ASSERT_TRUE(write_file_atomic(profile, R"({"kernel": "9.9.9-nothere"})").ok());
  auto r = labctl({"--profile", profile.string(), "build", "kmod/debugcon"}, env());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("apt-get install"), std::string::npos) << r.err;
}

TEST_F(Build, MissingFolderIsBadInput) {
  auto r = labctl({"build", "no/such/module"}, env());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no/such/module"), std::string::npos) << r.err;
}

} // namespace
} // namespace labctl::e2e
