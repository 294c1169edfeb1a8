// DKMS source folders: Debian's own *-dkms packages (unpacked with dpkg-deb, never
// installed) and tests/kmod/dkms_pair, built with `labctl build` and booted with `labctl run`
// against the real Debian kernels and headers.
#include "e2e_support.h"

#include "util/json_document.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace labctl::e2e {
namespace {

constexpr const char* k_debs = "/var/cache/labctl-test/debs";
// The installed releases of Debian 12's two series (scripts/setup.sh installs both); read
// from /boot, so a Debian kernel update does not break the tests.
const std::string k_old = installed_kernel_of_series("6.1");
const std::string k_new = installed_kernel_of_series("6.12");

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
  void SetUp() override {
    ASSERT_FALSE(k_old.empty()) << "no 6.1 kernel with headers (scripts/setup.sh installs it)";
    ASSERT_FALSE(k_new.empty()) << "no 6.12 kernel with headers (scripts/setup.sh installs it)";
  }
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
  EXPECT_NE(r.err.find(fmt::format("(DKMS package labctl-dkms-pair 1.0): excluded for {0}: "
                                   "BUILD_EXCLUSIVE_KERNEL '^6\\.12\\.' does not match {0}",
                                   k_old)),
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

// A scenario file in `dir` building `module` with `steps` (JSON text of the array).
fs::path write_scenario(const fs::path& dir, const std::string& name, const fs::path& module,
                        const std::string& steps) {
  fs::path p = dir / (name + ".json");
  EXPECT_TRUE(write_file_atomic(
                  p, fmt::format(R"({{"modules": ["{}"], "steps": {}}})", module.string(), steps))
                  .ok());
  return p;
}

TEST_F(Dkms, ExcludedKernelSkipsTheScenarioWithTheReasonAndThePackage) {
  fs::path s = write_scenario(scratch.path(), "pair", source_dir() / "tests/kmod/dkms_pair",
                              R"([{"run": "true"}])");
  fs::path json = scratch.path() / "report.json";
  fs::path artifacts = scratch.path() / "art";
  auto r = labctl({"--profile", profile_for(k_old).string(), "run", "--artifacts",
                   artifacts.string(), "--json", json.string(), s.string()},
                  env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string reason = "excluded: BUILD_EXCLUSIVE_KERNEL '^6\\.12\\.' does not match " +
                             k_old + " (DKMS package labctl-dkms-pair 1.0 in " +
                             (source_dir() / "tests/kmod/dkms_pair").string() + ")";
  EXPECT_NE(r.out.find("SKIP"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(reason), std::string::npos) << r.out;
  EXPECT_EQ(report_schema_problems(json), "");
  auto report = Json::parse(*read_file(json));
  const Json& scenario = report["scenarios"][0];
  EXPECT_EQ(scenario["verdict"], "skipped");
  EXPECT_EQ(scenario["skip_reason"], reason);
  EXPECT_EQ(scenario["dkms_packages"],
            Json::parse(fmt::format(R"([{{"module": "{}", "package": "labctl-dkms-pair",
                                          "version": "1.0"}}])",
                                    (source_dir() / "tests/kmod/dkms_pair").string())));
  EXPECT_FALSE(fs::exists(cache.path() / "modules") && !fs::is_empty(cache.path() / "modules"))
      << "a skipped scenario built something";
}

// These boot the real kernel.
class DkmsVm : public Dkms {};

TEST_F(DkmsVm, VpollBootsOn61AndItsDeviceOpens) {
  fs::path vpoll = unpack_dkms_deb("vpoll-dkms", scratch.path() / "deb");
  ASSERT_FALSE(vpoll.empty());
  // /dev/vpoll is made by devtmpfs with the 0666 its devnode asks for; opening it runs
  // vpoll_open (its per-file state) and closing it vpoll_release.
  fs::path s = write_scenario(scratch.path(), "vpoll", vpoll,
                              R"([{"run": "ls -l /dev/vpoll | cut -c1-10", "stdout": "crw-rw-rw-"},
          {"run": "exec 3<>/dev/vpoll && echo opened && exec 3<&- && grep -c '^vpoll ' /proc/modules",
           "stdout": "opened\n1"}])");
  fs::path json = scratch.path() / "report.json";
  auto r = labctl({"--profile", profile_for(k_old).string(), "run", "--artifacts",
                   (scratch.path() / "art").string(), "--json", json.string(), s.string()},
                  env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(report_schema_problems(json), "");
  auto report = Json::parse(*read_file(json));
  EXPECT_EQ(report["scenarios"][0]["verdict"], "passed");
  EXPECT_EQ(report["scenarios"][0]["dkms_packages"][0]["package"], "vpoll");
  EXPECT_EQ(report["scenarios"][0]["dkms_packages"][0]["version"], "0.1");
}

TEST_F(DkmsVm, TwoFolderPackageLoadsInIndexOrderOn612) {
  fs::path s = write_scenario(scratch.path(), "pair", source_dir() / "tests/kmod/dkms_pair",
                              R"([{"run": "dmesg | grep -o 'dkms_beta: alpha says 42'",
                                   "stdout": "dkms_beta: alpha says 42"}])");
  auto r = labctl({"--profile", profile_for(k_new).string(), "run", "--artifacts",
                   (scratch.path() / "art").string(), s.string()},
                  env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(DkmsVm, DmWriteboostBootsOn61AfterTheKernelsDmMod) {
  // dm-writeboost.ko depends on the kernel's dm-mod and libcrc32c: they come with it from
  // /lib/modules/<release>/kernel and load first; the target registers with device-mapper.
  fs::path wb = unpack_dkms_deb("dm-writeboost-dkms", scratch.path() / "deb");
  ASSERT_FALSE(wb.empty());
  fs::path s = write_scenario(
      scratch.path(), "writeboost", wb,
      R"([{"run": "cut -d' ' -f1 /proc/modules | grep -E '^(dm_mod|libcrc32c|dm_writeboost)$' | sort",
           "stdout": "dm_mod\ndm_writeboost\nlibcrc32c"},
          {"run": "grep '^dm_mod ' /proc/modules | cut -d' ' -f4", "stdout": "dm_writeboost,"},
          {"run": "rmmod dm_writeboost && modprobe dm-writeboost && grep -c '^dm_writeboost ' /proc/modules",
           "stdout": "1"},
          {"run": "grep -c '^crc32c_generic ' /proc/modules", "stdout": "1"}])");
  // libcrc32c's init allocates the "crc32c" hash, which it names only as a soft dependency
  // (modules.softdep: `softdep libcrc32c pre: crc32c`, an alias of crc32c_generic and
  // crc32c_intel): both come along and load first, as with modprobe; crc32c_intel may fail
  // (a TCG CPU has no SSE 4.2) without failing the boot. No profile names them.
  fs::path profile = scratch.path() / "wb.json";
  ASSERT_TRUE(write_file_atomic(profile, fmt::format(R"({{"kernel": "{}"}})", k_old)).ok());
  fs::path json = scratch.path() / "report.json";
  auto r = labctl({"--profile", profile.string(), "run", "--artifacts",
                   (scratch.path() / "art").string(), "--json", json.string(), s.string()},
                  env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = Json::parse(*read_file(json));
  EXPECT_EQ(report["scenarios"][0]["dkms_packages"][0]["package"], "dm-writeboost");
  EXPECT_EQ(report["scenarios"][0]["dkms_packages"][0]["version"], "2.2.17");
}

TEST_F(DkmsVm, KernelMatrixSkipsTheExcludedKernelAndRunsTheOther) {
  fs::path s = write_scenario(scratch.path(), "pair", source_dir() / "tests/kmod/dkms_pair",
                              R"([{"run": "grep -c '^dkms_beta ' /proc/modules", "stdout": "1"}])");
  fs::path json = scratch.path() / "report.json";
  auto r = labctl({"run", "--kernel", "all", "--artifacts", (scratch.path() / "art").string(),
                   "--json", json.string(), s.string()},
                  env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(report_schema_problems(json), "");
  auto report = Json::parse(*read_file(json));
  std::map<std::string, std::string> verdicts;
  for (const auto& scenario : report["scenarios"])
    verdicts[scenario["kernel"].get<std::string>()] = scenario["verdict"].get<std::string>();
  EXPECT_EQ(verdicts[k_old], "skipped") << r.out;
  EXPECT_EQ(verdicts[k_new], "passed") << r.out;
}

} // namespace
} // namespace labctl::e2e
