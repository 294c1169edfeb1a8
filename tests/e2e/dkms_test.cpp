// DKMS source folders: Debian's own *-dkms packages (unpacked with dpkg-deb, never
// installed) and tests/kmod/dkms_pair, built with `labctl build` and booted with `labctl run`
// against the real Debian kernels and headers.
#include "e2e_support.h"

#include <gtest/gtest.h>

#include <sstream>

namespace labctl::e2e {
namespace {

constexpr const char* k_debs = "/var/cache/labctl-test/debs";
constexpr const char* k_old = "6.1.0-57-amd64";
constexpr const char* k_new = "6.12.118+deb12-amd64";

std::string modinfo_field(const std::string& ko, const std::string& field) {
  auto r = run_capture({.argv = {"/sbin/modinfo", "-F", field, ko}}, std::chrono::seconds(30));
  EXPECT_TRUE(r.ok());
  std::string v = r.ok() ? r->out : "";
  while (!v.empty() && v.back() == '\n')
    v.pop_back();
  return v;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// The source folder /usr/src/<name>-<version> of the Debian package `package`, unpacked
// from its .deb in k_debs into `into` (what `apt-get install` would put there, without
// installing anything); empty, with a test failure, when the .deb is not there.
fs::path unpack_dkms_deb(const std::string& package, const fs::path& into) {
  fs::path deb;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(k_debs, ec))
    if (entry.path().filename().string().starts_with(package + "_") &&
        entry.path().extension() == ".deb")
      deb = entry.path();
  if (deb.empty()) {
    ADD_FAILURE() << "no " << package << "_*.deb in " << k_debs
                  << ": run scripts/setup.sh (it downloads the DKMS packages the tests build)";
    return {};
  }
  auto r = run_capture({.argv = {"dpkg-deb", "-x", deb.string(), into.string()}},
                       std::chrono::seconds(60));
  EXPECT_TRUE(r.ok() && r->status.success()) << (r.ok() ? r->err : r.error().message);
  for (const auto& entry : fs::directory_iterator(into / "usr/src", ec))
    if (fs::exists(entry.path() / "dkms.conf"))
      return entry.path();
  ADD_FAILURE() << deb << " holds no /usr/src/*/dkms.conf";
  return {};
}

class Dkms : public ::testing::Test {
protected:
  TempDir cache{"labctl-e2e-cache"};
  TempDir scratch{"labctl-e2e-dkms"};
  Env env() const { return {{"LABCTL_CACHE_DIR", cache.path().string()}}; }
  // A profile that picks the kernel `release`.
  fs::path profile_for(const std::string& release) {
    fs::path p = scratch.path() / (release + ".json");
    EXPECT_TRUE(write_file_atomic(p, fmt::format(R"({{"kernel": "{}"}})", release)).ok());
    return p;
  }
  LabctlRun build(const std::string& release, const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--profile", profile_for(release).string(), "build"};
    all.insert(all.end(), args.begin(), args.end());
    return labctl(all, env());
  }
};

TEST_F(Dkms, VpollBuildsAsDkmsWouldAndPrintsItsPackage) {
  fs::path vpoll = unpack_dkms_deb("vpoll-dkms", scratch.path() / "deb");
  ASSERT_FALSE(vpoll.empty());
  auto r = build(k_old, {vpoll.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto kos = lines_of(r.out);
  ASSERT_EQ(kos.size(), 1u) << r.out;
  EXPECT_TRUE(kos[0].ends_with("/vpoll.ko")) << kos[0];
  EXPECT_EQ(kos[0].rfind(cache.path().string(), 0), 0u) << "built outside the cache: " << kos[0];
  std::string vermagic = modinfo_field(kos[0], "vermagic");
  EXPECT_EQ(vermagic.substr(0, vermagic.find(' ')), k_old);
  EXPECT_NE(r.err.find("module " + vpoll.string() + ": DKMS package vpoll 0.1"), std::string::npos)
      << r.err;
  for (const auto& entry : fs::recursive_directory_iterator(vpoll))
    EXPECT_FALSE(entry.path().extension() == ".o" || entry.path().extension() == ".ko")
        << "build product in the source folder: " << entry.path();
  // Unchanged: the cache answers, without running dkms.conf's make command.
  auto again =
      labctl({"-v", "--profile", profile_for(k_old).string(), "build", vpoll.string()}, env());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
  EXPECT_NE(again.err.find("was cached"), std::string::npos) << again.err;
  EXPECT_EQ(again.err.find("labctl-dkms-make"), std::string::npos) << again.err;
}

TEST_F(Dkms, VpollDoesNotCompileOn612AndTheErrorNamesItsSource) {
  // vpoll 0.1 calls class_create(THIS_MODULE, NAME), which 6.4 changed to one argument.
  fs::path vpoll = unpack_dkms_deb("vpoll-dkms", scratch.path() / "deb");
  ASSERT_FALSE(vpoll.empty());
  auto r = build(k_new, {vpoll.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("(vpoll 0.1) did not compile"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find((vpoll / "vpoll.c").string() + ":"), std::string::npos) << r.err;
}

TEST_F(Dkms, DmWriteboostBuildsOn61WithoutWarningsAndFailsOn612AtItsSource) {
  // MAKE="make all KERNEL_TREE=$kernel_source_dir V=1": its own Makefile, run in the build
  // folder, calls kbuild with M=$(PWD); V=1 echoes every command, which are no warnings.
  fs::path wb = unpack_dkms_deb("dm-writeboost-dkms", scratch.path() / "deb");
  ASSERT_FALSE(wb.empty());
  auto r = build(k_old, {wb.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto kos = lines_of(r.out);
  ASSERT_EQ(kos.size(), 1u) << r.out;
  EXPECT_TRUE(kos[0].ends_with("/dm-writeboost.ko")) << kos[0];
  std::string vermagic = modinfo_field(kos[0], "vermagic");
  EXPECT_EQ(vermagic.substr(0, vermagic.find(' ')), k_old);
  // It needs the kernel's own dm-mod (and libcrc32c) loaded first.
  EXPECT_EQ(modinfo_field(kos[0], "depends"), "dm-mod,libcrc32c");
  EXPECT_EQ(r.err, "module " + wb.string() + ": DKMS package dm-writeboost 2.2.17\n");
  // 2.2.17 predates 6.10's removal of bdev->bd_inode: the error is at the user's copy of its
  // source, not at labctl's build folder.
  auto newer = build(k_new, {wb.string()});
  EXPECT_EQ(newer.exit_code, 1) << newer.err;
  EXPECT_TRUE(newer.err.starts_with("module " + wb.string() +
                                    " (dm-writeboost 2.2.17) did not compile (exit code 2):\n" +
                                    (wb / "dm-writeboost-target.c").string() + ":119:37: error: "))
      << newer.err;
  EXPECT_EQ(newer.err.find(cache.path().string()), std::string::npos) << newer.err;
}

TEST_F(Dkms, TwoFolderPackageBuildsBothInIndexOrderWithItsPatch) {
  auto r = build(k_new, {"tests/kmod/dkms_pair"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto kos = lines_of(r.out);
  ASSERT_EQ(kos.size(), 2u) << r.out;
  EXPECT_TRUE(kos[0].ends_with("/alpha/dkms_alpha.ko")) << kos[0];
  EXPECT_TRUE(kos[1].ends_with("/beta/dkms_beta.ko")) << kos[1];
  // PATCH[0] was applied to the build copy, never to the folder.
  EXPECT_EQ(modinfo_field(kos[1], "description"), "labctl DKMS fixture: patched by PATCH[0]");
  EXPECT_NE(read_file(source_dir() / "tests/kmod/dkms_pair/beta/dkms_beta.c")
                ->find("labctl DKMS fixture: unpatched"),
            std::string::npos);
  EXPECT_EQ(modinfo_field(kos[1], "depends"), "dkms_alpha");
  EXPECT_NE(r.err.find("DKMS package labctl-dkms-pair 1.0"), std::string::npos) << r.err;
}

TEST_F(Dkms, ExcludedKernelBuildsNothingAndSaysWhy) {
  auto r = build(k_old, {"tests/kmod/dkms_pair"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("(DKMS package labctl-dkms-pair 1.0): excluded for 6.1.0-57-amd64: "
                       "BUILD_EXCLUSIVE_KERNEL '^6\\.12\\.' does not match 6.1.0-57-amd64"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(cache.path() / "modules") && !fs::is_empty(cache.path() / "modules"))
      << "an excluded kernel built something";
}

TEST_F(Dkms, ChangedPatchOrMakeCommandRebuilds) {
  fs::path copy = scratch.path() / "pair";
  fs::copy(source_dir() / "tests/kmod/dkms_pair", copy, fs::copy_options::recursive);
  auto first = build(k_new, {copy.string()});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  fs::path patch = copy / "patches/beta-description.patch";
  std::string text = *read_file(patch);
  text.replace(text.find("patched by PATCH[0]"), 19, "patched again");
  ASSERT_TRUE(write_file_atomic(patch, text).ok());
  auto second = build(k_new, {copy.string()});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(modinfo_field(lines_of(second.out).at(1), "description"),
            "labctl DKMS fixture: patched again");
}

TEST_F(Dkms, BadDkmsConfIsBadInputNamingFileAndLine) {
  fs::path dir = scratch.path() / "bad";
  fs::create_directories(dir);
  ASSERT_TRUE(
      write_file_atomic(dir / "dkms.conf", "PACKAGE_NAME=bad\nPACKAGE_VERSION=1\nif then\n").ok());
  auto r = build(k_new, {dir.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find((dir / "dkms.conf").string() +
                       ":3: bash rejects dkms.conf: syntax error near unexpected token `then'"),
            std::string::npos)
      << r.err;
  ASSERT_TRUE(write_file_atomic(dir / "dkms.conf", "PACKAGE_NAME=bad\nPACKAGE_VERSION=1\n").ok());
  auto missing = build(k_new, {dir.string()});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find((dir / "dkms.conf").string() + ": sets no BUILT_MODULE_NAME"),
            std::string::npos)
      << missing.err;
}

} // namespace
} // namespace labctl::e2e
