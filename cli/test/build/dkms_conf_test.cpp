#include "build/dkms_conf.h"

#include "test_support.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace labctl {
namespace {

// A dkms.conf in a scratch folder, evaluated there for a 6.1 kernel whose headers are /k.
struct DkmsConf : test::ScratchDir, ::testing::Test {
  DkmsContext context;
  DkmsConf() {
    context.kernelver = "6.1.0-57-amd64";
    context.arch = "x86_64";
    context.kernel_source_dir = "/k";
    context.parallel_jobs = 4;
  }
  Result<DkmsArrays> evaluate(const std::string& text) {
    return evaluate_dkms_conf(write("pkg/dkms.conf", text), context, path() / "pkg");
  }
  Result<DkmsRecipe> recipe(const std::string& text, const std::string& config = "") {
    auto arrays = evaluate(text);
    if (!arrays)
      return arrays.error();
    return dkms_recipe(*arrays, context, config, path() / "pkg/dkms.conf");
  }
  std::string conf() const { return (path() / "pkg/dkms.conf").string(); }
};

constexpr const char* k_vpoll = R"(PACKAGE_NAME="vpoll"
PACKAGE_VERSION="0.1"
BUILT_MODULE_NAME[0]="$PACKAGE_NAME"
DEST_MODULE_LOCATION[0]="/extra"
MAKE[0]="make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"
)";

TEST_F(DkmsConf, ArraysAreWhatBashMadeOfTheFileWithDkmsVariables) {
  auto arrays = evaluate(k_vpoll);
  ASSERT_TRUE(arrays.ok()) << arrays.error().message;
  EXPECT_EQ((*arrays)["PACKAGE_NAME"][0], "vpoll");
  EXPECT_EQ((*arrays)["BUILT_MODULE_NAME"][0], "vpoll");
  EXPECT_EQ((*arrays)["MAKE"][0], "make -C /k M=/var/lib/dkms/vpoll/0.1/build");
  EXPECT_EQ(arrays->count("CLEAN"), 0u);
  auto r = recipe(k_vpoll);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->package_name, "vpoll");
  EXPECT_EQ(r->package_version, "0.1");
  ASSERT_EQ(r->modules.size(), 1u);
  EXPECT_EQ(r->modules[0].ko(), "vpoll.ko");
  EXPECT_EQ(r->make_command,
            "make -j4 KERNELRELEASE=6.1.0-57-amd64 -C /k M=/var/lib/dkms/vpoll/0.1/build");
  EXPECT_FALSE(r->excluded);
}

TEST_F(DkmsConf, PlainVariableIsIndexZeroAndCarriageReturnsGo) {
  auto r = recipe("PACKAGE_NAME=\"dm-writeboost\"\r\nPACKAGE_VERSION=\"2.2.17\"\r\n"
                  "MAKE=\"make all KERNEL_TREE=$kernel_source_dir V=1\"\r\n"
                  "BUILT_MODULE_NAME=\"dm-writeboost\"\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->package_version, "2.2.17");
  EXPECT_EQ(r->make_command, "make -j4 KERNELRELEASE=6.1.0-57-amd64 all KERNEL_TREE=/k V=1");
  EXPECT_EQ(r->modules.at(0).name, "dm-writeboost");
}

TEST_F(DkmsConf, DefaultsAreDkmsOnes) {
  // One record without BUILT_MODULE_NAME builds the package's name; no MAKE: dkms's own.
  auto r = recipe("PACKAGE_NAME=foo\nPACKAGE_VERSION=2\nDEST_MODULE_LOCATION[0]=/extra\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->modules.at(0).ko(), "foo.ko");
  EXPECT_EQ(r->make_command,
            "make -j4 KERNELRELEASE=6.1.0-57-amd64 -C /k M=/var/lib/dkms/foo/2/build");
}

TEST_F(DkmsConf, TheFilesOutputEnvironmentAndFolderAreItsOwn) {
  write("pkg/VERSION", "3.1\n");
  setenv("LABCTL_DKMS_TEST_LEAK", "leaked", 1);
  // What the file prints (even in the child's own record format) is discarded; it sees no
  // variable of labctl's environment, and its working directory is the folder it was given.
  auto r = recipe("echo noise; printf 'PACKAGE_NAME\\0' ; printf '0\\0evil\\0'\n"
                  "PACKAGE_NAME=\"p${LABCTL_DKMS_TEST_LEAK:-clean}\"\n"
                  "PACKAGE_VERSION=$(cat VERSION)\nBUILT_MODULE_NAME[0]=m\n"
                  "BUILT_MODULE_LOCATION[0]=sub\n");
  unsetenv("LABCTL_DKMS_TEST_LEAK");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->package_name, "pclean");
  EXPECT_EQ(r->package_version, "3.1");
  EXPECT_EQ(r->modules.at(0).ko(), "sub/m.ko");
}

TEST_F(DkmsConf, SyntaxErrorIsBadInputNamingFileAndLine) {
  auto r = evaluate("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nMAKE[0]=\"make $(\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ExitCode::bad_input);
  // bash's own line: where it met the end of the file still looking for `)`.
  EXPECT_EQ(r.error().message, conf() + ":4: bash rejects dkms.conf: unexpected EOF while "
                                        "looking for matching `)'");
  auto b = evaluate("PACKAGE_NAME=x\nif then\n");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message,
            conf() + ":2: bash rejects dkms.conf: syntax error near unexpected token `then'");
}

TEST_F(DkmsConf, MissingKeysAreBadInput) {
  auto no_name = recipe("PACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=m\n");
  ASSERT_FALSE(no_name.ok());
  EXPECT_EQ(no_name.error().code, ExitCode::bad_input);
  EXPECT_EQ(no_name.error().message,
            conf() + ": sets no PACKAGE_NAME (dkms needs PACKAGE_NAME, PACKAGE_VERSION and "
                     "BUILT_MODULE_NAME)");
  auto no_version = recipe("PACKAGE_NAME=p\nBUILT_MODULE_NAME[0]=m\n");
  ASSERT_FALSE(no_version.ok());
  EXPECT_NE(no_version.error().message.find("sets no PACKAGE_VERSION"), std::string::npos);
  auto no_module = recipe("PACKAGE_NAME=p\nPACKAGE_VERSION=1\n");
  ASSERT_FALSE(no_module.ok());
  EXPECT_NE(no_module.error().message.find("sets no BUILT_MODULE_NAME"), std::string::npos);
  // Two records: no default name for the one that lacks it.
  auto second = recipe("PACKAGE_NAME=p\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a\n"
                       "BUILT_MODULE_LOCATION[1]=b\n");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message, conf() + ": sets no BUILT_MODULE_NAME[1]");
  auto ko = recipe("PACKAGE_NAME=p\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a.ko\n");
  ASSERT_FALSE(ko.ok());
  EXPECT_NE(ko.error().message.find("'a.ko' must be a module name"), std::string::npos);
  auto outside = recipe("PACKAGE_NAME=p\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a\n"
                        "BUILT_MODULE_LOCATION[0]=../x\n");
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("is outside the package"), std::string::npos);
}

constexpr const char* k_pair = "PACKAGE_NAME=p\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=a\n"
                               "BUILT_MODULE_LOCATION[0]=sa\nBUILT_MODULE_NAME[1]=b\n"
                               "BUILT_MODULE_LOCATION[1]=sb/\n";

TEST_F(DkmsConf, KernelRegexExcludesWithTheReason) {
  auto r = recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_KERNEL=\"^5\\.\"\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->excluded);
  EXPECT_EQ(*r->excluded, "BUILD_EXCLUSIVE_KERNEL '^5\\.' does not match 6.1.0-57-amd64");
  context.kernelver = "5.10.0-30-amd64";
  auto fits = recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_KERNEL=\"^5\\.\"\n");
  ASSERT_TRUE(fits.ok());
  EXPECT_FALSE(fits->excluded);
  EXPECT_EQ(fits->modules.at(1).ko(), "sb/b.ko");
}

TEST_F(DkmsConf, KernelMinMaxCompareAsDkmsVer) {
  auto min = recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_KERNEL_MIN=6.10\n");
  ASSERT_TRUE(min.ok());
  ASSERT_TRUE(min->excluded);
  EXPECT_EQ(*min->excluded, "BUILD_EXCLUSIVE_KERNEL_MIN '6.10': 6.1.0-57-amd64 is older");
  auto old_enough = recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_KERNEL_MIN=3.9\n");
  ASSERT_TRUE(old_enough.ok());
  EXPECT_FALSE(old_enough->excluded);
  auto max = recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_KERNEL_MAX=5.19\n");
  ASSERT_TRUE(max.ok());
  ASSERT_TRUE(max->excluded);
  EXPECT_EQ(*max->excluded, "BUILD_EXCLUSIVE_KERNEL_MAX '5.19': 6.1.0-57-amd64 is newer");
  EXPECT_EQ(dkms_ver("2.6.9-1cvs200409091247"), "002.006.009-001cvs200409091247");
  EXPECT_EQ(dkms_ver("6.12.118+deb12-amd64"), "006.012.118+deb012-amd064");
  EXPECT_LT(dkms_ver("6.9"), dkms_ver("6.10"));
}

TEST_F(DkmsConf, ArchAndConfigRules) {
  auto arch = recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_ARCH='^(arm|aarch64)'\n");
  ASSERT_TRUE(arch.ok());
  ASSERT_TRUE(arch->excluded);
  EXPECT_EQ(*arch->excluded, "BUILD_EXCLUSIVE_ARCH '^(arm|aarch64)' does not match x86_64");
  const std::string config = "CONFIG_BLK_DEV_DM=m\nCONFIG_NET=y\n# CONFIG_FOO is not set\n";
  auto has = recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_CONFIG='CONFIG_BLK_DEV_DM CONFIG_NET'\n",
                    config);
  ASSERT_TRUE(has.ok());
  EXPECT_FALSE(has->excluded);
  auto lacks =
      recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_CONFIG='CONFIG_NET CONFIG_FOO'\n", config);
  ASSERT_TRUE(lacks.ok());
  ASSERT_TRUE(lacks->excluded);
  EXPECT_EQ(*lacks->excluded,
            "BUILD_EXCLUSIVE_CONFIG 'CONFIG_NET CONFIG_FOO': the kernel does not have CONFIG_FOO");
  auto negated =
      recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_CONFIG='!CONFIG_BLK_DEV_DM'\n", config);
  ASSERT_TRUE(negated.ok());
  ASSERT_TRUE(negated->excluded);
  EXPECT_EQ(*negated->excluded, "BUILD_EXCLUSIVE_CONFIG '!CONFIG_BLK_DEV_DM': the kernel has "
                                "CONFIG_BLK_DEV_DM=y or =m");
  // dkms checks the configuration only when the kernel has one.
  auto none = recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_CONFIG='CONFIG_FOO'\n", "");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->excluded);
}

TEST_F(DkmsConf, ARecordsOwnRuleExcludesOnlyIt) {
  auto r = recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_KERNEL[1]='^6\\.12'\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->excluded);
  EXPECT_FALSE(r->modules.at(0).excluded);
  ASSERT_TRUE(r->modules.at(1).excluded);
  EXPECT_EQ(*r->modules.at(1).excluded,
            "BUILD_EXCLUSIVE_KERNEL[1] '^6\\.12' does not match 6.1.0-57-amd64");
}

TEST_F(DkmsConf, InvalidRegexIsBadInput) {
  auto r = recipe(std::string(k_pair) + "BUILD_EXCLUSIVE_KERNEL='^(6'\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ExitCode::bad_input);
  EXPECT_EQ(r.error().message,
            conf() + ": BUILD_EXCLUSIVE_KERNEL '^(6' is not a valid regular expression");
}

TEST_F(DkmsConf, MakeMatchAndPatchMatchPickForTheRelease) {
  const std::string text = std::string(k_pair) +
                           "MAKE[0]='make -C sa first'\nMAKE[1]='make -C sb second'\n"
                           "MAKE_MATCH[1]='^6\\.1\\.'\nPATCH[0]=all.patch\n"
                           "PATCH[1]=old.patch\nPATCH_MATCH[1]='^5\\.'\n";
  auto r = recipe(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->make_command, "make -j4 KERNELRELEASE=6.1.0-57-amd64 -C sb second");
  EXPECT_EQ(r->patches, std::vector<std::string>{"all.patch"});
  context.kernelver = "6.12.118+deb12-amd64";
  auto newer = recipe(text);
  ASSERT_TRUE(newer.ok());
  EXPECT_EQ(newer->make_command, "make -j4 KERNELRELEASE=6.12.118+deb12-amd64 -C sa first");
  // With MAKE_MATCH[0] set, MAKE[0] is only taken when it matches; else dkms's default.
  auto none = recipe(std::string(k_pair) + "MAKE[0]='make x'\nMAKE_MATCH[0]='^4'\n");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->make_command,
            "make -j4 KERNELRELEASE=6.12.118+deb12-amd64 -C /k M=/var/lib/dkms/p/1/build");
  auto escape = recipe(std::string(k_pair) + "PATCH[0]=../../etc.patch\n");
  ASSERT_FALSE(escape.ok());
  EXPECT_NE(escape.error().message.find("is outside patches/"), std::string::npos);
}

} // namespace
} // namespace labctl
