#include "config/profile.h"

#include "host/kernel_locator.h"
#include "test_support.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

TEST(ProfileDebugVmlinux, AutoTakesDebiansFileWhenInstalledNoneAndPathsAsGiven) {
  test::ScratchDir root;
  Profile p;
  EXPECT_EQ(p.debug_vmlinux, "auto");
  EXPECT_EQ(debug_vmlinux_for(p, "6.1.0-57-amd64", root.path()), fs::path());
  fs::path installed = root.write("usr/lib/debug/boot/vmlinux-6.1.0-57-amd64", "ELF");
  EXPECT_EQ(debian_debug_vmlinux("6.1.0-57-amd64", root.path()), installed);
  EXPECT_EQ(debug_vmlinux_for(p, "6.1.0-57-amd64", root.path()), installed);
  EXPECT_EQ(debug_vmlinux_for(p, "6.12.118+deb12-amd64", root.path()), fs::path());
  p.debug_vmlinux = "none";
  EXPECT_EQ(debug_vmlinux_for(p, "6.1.0-57-amd64", root.path()), fs::path());
  p.debug_vmlinux = "/x/vmlinux";
  EXPECT_EQ(debug_vmlinux_for(p, "6.1.0-57-amd64", root.path()), fs::path("/x/vmlinux"));
}

TEST(ProfileDebugVmlinux, APathIsRelativeToTheProfileAndMustBeAFile) {
  test::ScratchDir dir;
  dir.write("dbg/vmlinux", "ELF");
  auto ok = parse_profile(R"({"debug_vmlinux": "dbg/vmlinux"})", dir.path() / "p.json");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->debug_vmlinux, (dir.path() / "dbg/vmlinux").string());
  auto missing = parse_profile("{\n  \"debug_vmlinux\": \"nope\"\n}", dir.path() / "p.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ExitCode::bad_input);
  EXPECT_NE(missing.error().message.find("p.json:2: key 'debug_vmlinux'"), std::string::npos)
      << missing.error().message;
  for (const char* word : {"auto", "none"}) {
    auto p =
        parse_profile(std::string(R"({"debug_vmlinux": ")") + word + "\"}", dir.path() / "p.json");
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->debug_vmlinux, word);
  }
}

} // namespace
} // namespace labctl
