#include "image/busybox_applets.h"

#include "test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace labctl {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

TEST(BusyboxApplets, ListsInstallPathsOfTheHostBusybox) {
  fs::path busybox = "/bin/busybox";
  if (!fs::exists(busybox))
    GTEST_SKIP() << "no /bin/busybox";
  auto applets = busybox_applets(busybox);
  ASSERT_TRUE(applets.ok()) << applets.error().message;
  EXPECT_THAT(*applets, Contains("bin/sh"));
  EXPECT_THAT(*applets, Contains("sbin/mdev"));
  EXPECT_THAT(*applets, Contains("sbin/insmod"));
  // base64 lives in bin/ or usr/bin/ depending on the busybox version.
  EXPECT_TRUE(std::count(applets->begin(), applets->end(), "bin/base64") +
                  std::count(applets->begin(), applets->end(), "usr/bin/base64") ==
              1);
  for (const auto& path : *applets) {
    EXPECT_NE(path.front(), '/') << path;
    EXPECT_EQ(path.find(".."), std::string::npos) << path;
  }
  auto again = busybox_applets(busybox);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *applets);
}

TEST(BusyboxApplets, MissingBusyboxIsAnEnvironmentError) {
  test::ScratchDir dir;
  auto r = busybox_applets(dir.path() / "busybox");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ExitCode::environment);
  EXPECT_THAT(r.error().message, HasSubstr("busybox"));
}

TEST(BusyboxApplets, BusyboxWithoutListFullIsAnEnvironmentError) {
  test::ScratchDir dir;
  fs::path fake =
      dir.write("busybox", "#!/bin/sh\necho \"--list-full: applet not found\" >&2\nexit 1\n");
  fs::permissions(fake, fs::perms(0755));
  auto r = busybox_applets(fake);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ExitCode::environment);
  EXPECT_THAT(r.error().message, HasSubstr("applet not found"));

  fs::path escaping = dir.write("busybox2", "#!/bin/sh\necho bin/sh\necho ../../etc/passwd\n");
  fs::permissions(escaping, fs::perms(0755));
  auto bad = busybox_applets(escaping);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("unexpected line"));
}

} // namespace
} // namespace labctl
