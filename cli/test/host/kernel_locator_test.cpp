#include "host/kernel_locator.h"

#include "test_support.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

struct FakeHost : test::ScratchDir {
  KernelRoots roots() const { return {path() / "boot", path() / "lib/modules"}; }
  void image(const std::string& v) const { write("boot/vmlinuz-" + v, "bzImage"); }
  void headers(const std::string& v) const { mkdir("lib/modules/" + v + "/build"); }
};

TEST(KernelLocator, NewestWithHeadersWins) {
  FakeHost host;
  for (auto v : {"6.1.0-9-amd64", "6.1.0-56-amd64", "6.10.0-1-amd64", "6.9.0-2-amd64"})
    host.image(v);
  host.headers("6.1.0-9-amd64");
  host.headers("6.1.0-56-amd64");
  host.headers("6.9.0-2-amd64");
  // 6.10 is newest but has no headers: it must not be picked.
  auto k = find_newest_kernel(host.roots());
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->version, "6.9.0-2-amd64");
  EXPECT_EQ(k->image, host.path() / "boot/vmlinuz-6.9.0-2-amd64");
  EXPECT_EQ(k->build_dir, host.path() / "lib/modules/6.9.0-2-amd64/build");
}

TEST(KernelLocator, NoKernelIsEnvironmentError) {
  FakeHost host;
  host.mkdir("boot");
  auto k = find_newest_kernel(host.roots());
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().code, ExitCode::environment);
  EXPECT_NE(k.error().message.find("no kernel found"), std::string::npos);
  EXPECT_NE(k.error().message.find("linux-image-amd64"), std::string::npos);
}

TEST(KernelLocator, KernelWithoutHeadersSaysWhichPackage) {
  FakeHost host;
  host.image("6.1.0-56-amd64");
  auto k = find_newest_kernel(host.roots());
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().code, ExitCode::environment);
  EXPECT_NE(k.error().message.find("linux-headers-6.1.0-56-amd64"), std::string::npos);
}

TEST(KernelLocator, VersionOrderIsNumeric) {
  EXPECT_GT(compare_kernel_versions("6.10.0", "6.9.0"), 0);
  EXPECT_GT(compare_kernel_versions("6.1.0-56-amd64", "6.1.0-9-amd64"), 0);
  EXPECT_LT(compare_kernel_versions("6.1.0~rc1", "6.1.0"), 0);
  EXPECT_EQ(compare_kernel_versions("6.1.0-56-amd64", "6.1.0-56-amd64"), 0);
}

} // namespace
} // namespace labctl
