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

TEST(KernelLocator, FindKernelsListsEveryKernelWithHeadersOldestFirst) {
  FakeHost host;
  for (auto v : {"6.12.118+deb12-amd64", "6.1.0-57-amd64", "6.10.0-1-amd64", "6.9.0-2-amd64"})
    host.image(v);
  host.headers("6.12.118+deb12-amd64");
  host.headers("6.1.0-57-amd64");
  host.headers("6.9.0-2-amd64");
  host.headers("5.10.0-1-amd64"); // headers without an image
  std::vector<std::string> found;
  for (const auto& k : find_kernels(host.roots()))
    found.push_back(k.version);
  EXPECT_EQ(found,
            (std::vector<std::string>{"6.1.0-57-amd64", "6.9.0-2-amd64", "6.12.118+deb12-amd64"}));
}

bool applies(const std::string& constraint, const std::string& release) {
  auto f = KernelFilter::constraints(constraint);
  EXPECT_TRUE(f.ok()) << constraint << ": " << f.error().message;
  return f.ok() && f->applies_to(release);
}

TEST(KernelFilter, ConstraintsCompareAsManyNumbersAsTheyGive) {
  EXPECT_FALSE(applies(">=6.4", "6.1.0-57-amd64"));
  EXPECT_TRUE(applies(">=6.4", "6.12.118+deb12-amd64"));
  EXPECT_TRUE(applies("<6.4", "6.1.0-57-amd64"));
  EXPECT_FALSE(applies("<6.4", "6.12.118+deb12-amd64"));
  // 6.12.118 is a 6.12 kernel: <=6.12 and ==6.12 hold, >6.12 does not.
  EXPECT_TRUE(applies("<=6.12", "6.12.118+deb12-amd64"));
  EXPECT_TRUE(applies("==6.12", "6.12.118+deb12-amd64"));
  EXPECT_TRUE(applies("=6.12", "6.12.118+deb12-amd64"));
  EXPECT_FALSE(applies(">6.12", "6.12.118+deb12-amd64"));
  EXPECT_TRUE(applies("!=6.12", "6.1.0-57-amd64"));
  // 6.1 is not 6.12's prefix in numbers either.
  EXPECT_FALSE(applies("==6.1", "6.12.118+deb12-amd64"));
  EXPECT_TRUE(applies("==6.1", "6.1.0-57-amd64"));
  // Every constraint of a comma list must hold.
  EXPECT_TRUE(applies(">=5.15, <6.4", "6.1.0-57-amd64"));
  EXPECT_FALSE(applies(">=5.15,<6.4", "6.12.118+deb12-amd64"));
  // A version with more than numbers is compared with the whole release.
  EXPECT_TRUE(applies(">6.1.0-9-amd64", "6.1.0-57-amd64"));
  EXPECT_FALSE(applies(">6.1.0-57-amd64", "6.1.0-57-amd64"));
}

TEST(KernelFilter, BadConstraintsSayWhatIsExpected) {
  for (auto bad : {"6.4", ">=", "=>6.4", ">= six", ">=6.4,", "~6.4", ""}) {
    auto f = KernelFilter::constraints(bad);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_NE(f.error().message.find("is not a version constraint"), std::string::npos)
        << f.error().message;
  }
}

TEST(KernelFilter, ReleasesMatchWholeOrAtANumbersEnd) {
  auto f = KernelFilter::releases({"6.1", "6.12.118+deb12-amd64"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->applies_to("6.1.0-57-amd64"));
  EXPECT_TRUE(f->applies_to("6.12.118+deb12-amd64"));
  EXPECT_FALSE(f->applies_to("6.12.117+deb12-amd64"));
  auto only61 = KernelFilter::releases({"6.1"});
  ASSERT_TRUE(only61.ok());
  EXPECT_FALSE(only61->applies_to("6.12.118+deb12-amd64"));
  EXPECT_EQ(only61->describe(), "[6.1]");
  EXPECT_EQ(KernelFilter::constraints(">=6.4")->describe(), "'>=6.4'");
  EXPECT_FALSE(KernelFilter::releases({}).ok());
  EXPECT_FALSE(KernelFilter::releases({" 6.1"}).ok());
}

} // namespace
} // namespace labctl
