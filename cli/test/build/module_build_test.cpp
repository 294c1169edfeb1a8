#include "build/module_build.h"
#include "build/module_cache.h"

#include "test_support.h"
#include "util/interrupt.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace labctl {
namespace {

using namespace std::chrono_literals;

// A kernel "build tree" whose Makefile stands in for kbuild: the real make runs it with the
// M= labctl passes, so these tests see exactly what make is handed, in a second.
struct FakeKbuild : test::ScratchDir {
  explicit FakeKbuild(const std::string& modules_recipe) {
    write("kernel/Makefile", "modules:\n\t" + modules_recipe + "\n");
    write("module/Kbuild", "obj-m := fake.o\n");
    write("module/fake.c", "/* never compiled */\n");
  }
  ModuleBuildRequest request(const fs::path& cache) const {
    return {path() / "module",
            Kernel{.version = "6.1.0-fake", .build_dir = path() / "kernel"},
            cache,
            {}};
  }
  std::vector<fs::path> temps(const fs::path& cache) const {
    std::vector<fs::path> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(cache / "modules", ec))
      if (e.path().filename().string().find(".tmp.") != std::string::npos)
        found.push_back(e.path());
    return found;
  }
};

// Writes what make received as M= and a .ko (an ELF magic is all the cache checks).
constexpr const char* k_writes_ko =
    "printf '%s' '$(M)' > $(M)/m.txt && printf '\\177ELF fake' > $(M)/fake.ko";

TEST(ModuleBuild, ACachePathWithBlanksAndMakeSyntaxReachesMakeAsOneLiteralWord) {
  FakeKbuild host(k_writes_ko);
  auto pwned = host.path() / "pwned";
  auto cache = host.path() / fmt::format("my cache $(shell touch {}) ; x", pwned.string());
  auto built = build_module(host.request(cache));
  ASSERT_TRUE(built.ok()) << built.error().message;
  ASSERT_EQ(built->ko_files.size(), 1u);
  EXPECT_EQ(built->ko_files[0].string().rfind(cache.string(), 0), 0u) << built->ko_files[0];
  EXPECT_FALSE(fs::exists(pwned)) << "make expanded $(shell …) from the cache path";
  auto m = read_file(built->ko_files[0].parent_path() / "m.txt");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->find(' '), std::string::npos) << "make was handed a path with a blank: " << *m;
  EXPECT_TRUE(host.temps(cache).empty());
}

TEST(ModuleBuild, APlainCachePathIsHandedToMakeAsItIs) {
  FakeKbuild host(k_writes_ko);
  auto cache = host.path() / "cache";
  auto built = build_module(host.request(cache));
  ASSERT_TRUE(built.ok()) << built.error().message;
  auto m = read_file(built->ko_files[0].parent_path() / "m.txt");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(fs::path(*m).parent_path().parent_path().parent_path(), cache) << *m;
}

TEST(ModuleBuild, CopiesLeftByADeadLabctlAreRemovedAndLiveOnesKept) {
  FakeKbuild host(k_writes_ko);
  auto cache = host.path() / "cache";
  // A copy whose key nobody holds (its labctl was killed) and one whose key is locked.
  auto stale = host.mkdir("cache/modules/0123abcd.tmp.4194000/src");
  auto live = host.mkdir("cache/modules/4567cdef.tmp.1/src");
  int fd = ::open((cache / "modules/4567cdef.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  auto built = build_module(host.request(cache));
  ::close(fd);
  ASSERT_TRUE(built.ok()) << built.error().message;
  EXPECT_FALSE(fs::exists(stale.parent_path())) << "stale build copy kept";
  EXPECT_TRUE(fs::exists(live)) << "a copy whose build holds the lock was removed";
}

TEST(ModuleBuild, ASignalDuringMakeEndsItAtOnceAndLeavesNoCopy) {
  // The recipe interrupts this process itself once make runs: no timing involved.
  FakeKbuild host(fmt::format("touch $(M)/half.o && kill -INT {} && sleep 300", ::getpid()));
  auto cache = host.path() / "cache";
  install_interrupt_handlers();
  reset_interrupt();
  auto started = std::chrono::steady_clock::now();
  auto built = build_module(host.request(cache));
  auto took = std::chrono::steady_clock::now() - started;
  reset_interrupt();
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().code, ExitCode::interrupted) << built.error().message;
  EXPECT_NE(built.error().message.find("interrupted while building module"), std::string::npos);
  EXPECT_LT(took, 120s) << "make ran to the end of its sleep";
  EXPECT_TRUE(host.temps(cache).empty()) << host.temps(cache)[0];
  auto key = module_cache_key(host.request(cache));
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(fs::exists(cache / "modules" / *key)) << "a half build entered the cache";
}

TEST(ModuleBuild, ASignalWhileWaitingForAnotherBuildOfTheSameModuleStopsTheWait) {
  FakeKbuild host(k_writes_ko);
  auto cache = host.path() / "cache";
  auto key = module_cache_key(host.request(cache));
  ASSERT_TRUE(key.ok());
  fs::create_directories(cache / "modules");
  int fd =
      ::open((cache / "modules" / (*key + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0); // "another labctl" builds this module
  install_interrupt_handlers();
  reset_interrupt();
  ::raise(SIGTERM);
  auto built = build_module(host.request(cache));
  reset_interrupt();
  ::close(fd);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().code, ExitCode::interrupted) << built.error().message;
}

// Two checkouts of one folder: the same files, different places. Each has its own entry, so
// neither is checked against the other's outside headers nor shows the other's paths.
TEST(ModuleCacheKey, TheSameFilesInAnotherFolderAreAnotherEntry) {
  FakeKbuild host(k_writes_ko);
  host.write("checkout2/module/Kbuild", "obj-m := fake.o\n");
  host.write("checkout2/module/fake.c", "/* never compiled */\n");
  auto cache = host.path() / "cache";
  auto first = module_cache_key(host.request(cache));
  auto again = module_cache_key(host.request(cache));
  auto other = host.request(cache);
  other.source_dir = host.path() / "checkout2" / "module";
  auto second = module_cache_key(other);
  ASSERT_TRUE(first.ok() && again.ok() && second.ok());
  EXPECT_EQ(*first, *again);
  EXPECT_NE(*first, *second);
}

TEST(MapCompilerOutput, RewritesTheBuildCopyToTheUsersFolder) {
  auto out = map_compiler_output("make: Entering directory '/k'\n/proc/9/fd/5/a.c:3:1: error: x\n",
                                 "/proc/9/fd/5", "/home/u/my mod");
  EXPECT_EQ(out, "/home/u/my mod/a.c:3:1: error: x\n");
}

// tests/data/kbuild/README.md: a real .a.o.cmd and modules.order of Debian's 6.1 kbuild.
TEST(ParseKbuildCmd, ListsTheSourceAndEveryHeaderWithoutConfigWildcards) {
  auto text = read_file(test::test_data("kbuild/a.o.cmd"));
  ASSERT_TRUE(text.ok());
  auto deps = parse_kbuild_cmd(*text);
  ASSERT_FALSE(deps.empty());
  EXPECT_EQ(deps.front(), "/tmp/h4t/mod/a.c");
  EXPECT_NE(std::find(deps.begin(), deps.end(), "/tmp/h4t/mod/../include/x.h"), deps.end());
  EXPECT_NE(std::find(deps.begin(), deps.end(),
                      "/usr/src/linux-headers-6.1.0-57-common/include/linux/module.h"),
            deps.end());
  for (const auto& d : deps) {
    EXPECT_EQ(d.find("$("), std::string::npos) << d;
    EXPECT_EQ(d.find(' '), std::string::npos) << d;
    EXPECT_FALSE(d.ends_with("\\")) << d;
  }
}

TEST(ParseKbuildCmd, AFileWithoutDependencyListsNamesNothing) {
  EXPECT_TRUE(parse_kbuild_cmd("cmd_/m/a.ko := ld -r -o /m/a.ko /m/a.o\n").empty());
}

TEST(ParseModulesOrder, KeepsKbuildsOrderNotTheAlphabet) {
  auto text = read_file(test::test_data("kbuild/modules.order"));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(parse_modules_order(*text),
            (std::vector<std::string>{"/tmp/h4t/mod/a.ko", "/tmp/h4t/mod/b.ko"}));
  EXPECT_EQ(parse_modules_order("z/zbus.o\n\na/aclient.o\n"),
            (std::vector<std::string>{"z/zbus.o", "a/aclient.o"}));
}

TEST(KbuildDiagnostics, DropsProgressLinesAndKeepsWarnings) {
  std::string out = "  CC [M]  /m/a.o\n/m/a.c:3:5: warning: unused variable 'x'\n"
                    "  MODPOST /m/Module.symvers\nWARNING: modpost: \"f\" [/m/a.ko] undefined!\n"
                    "  LD [M]  /m/a.ko\n  BTF [M] /m/a.ko\n"
                    "Skipping BTF generation for /m/a.ko due to unavailability of vmlinux\n";
  EXPECT_EQ(kbuild_diagnostics(out), "/m/a.c:3:5: warning: unused variable 'x'\n"
                                     "WARNING: modpost: \"f\" [/m/a.ko] undefined!\n");
}

TEST(LeadWithFirstError, PutsTheFirstErrorAtTheUsersFilesFirst) {
  std::string diag = "In file included from /usr/src/k/include/linux/module.h:1,\n"
                     "                 from /u/d/mod/a.c:2:\n"
                     "/usr/src/k/include/linux/x.h:9:1: error: in the kernel\n"
                     "/u/d/mod/../include/h.h:4:2: error: #error stale\n";
  std::string led = lead_with_first_error(diag, "/u/d/mod");
  EXPECT_TRUE(led.starts_with("/u/d/mod/../include/h.h:4:2: error: #error stale\n\n")) << led;
  EXPECT_NE(led.find(diag), std::string::npos);
  EXPECT_EQ(lead_with_first_error("no errors here\n", "/u/d/mod"), "no errors here\n");
}

TEST(CompilerMessages, KeepsWhatTheCompilerAndModpostSaidWithoutVerboseCommands) {
  const std::string v1 =
      "make -C /k M=/u/p modules\n"
      "   gcc-12 -Wp,-MMD,/u/p/.a.o.d -nostdinc -I/k/include -c -o /u/p/a.o /u/p/a.c\n"
      "# CC [M]  /u/p/a.o\n"
      "/u/p/a.c: In function 'f':\n"
      "/u/p/a.c:12:13: warning: unused variable 'x' [-Wunused-variable]\n"
      "   12 |         int x;\n"
      "      |             ^\n"
      "  printf '%s\\n' a.o | awk '{ print }' > /u/p/a.mod\n"
      "WARNING: modpost: \"g\" [/u/p/a.ko] undefined!\n"
      "   ld -r -m elf_x86_64 -o /u/p/a.ko /u/p/a.o\n";
  EXPECT_EQ(compiler_messages(v1),
            "/u/p/a.c: In function 'f':\n"
            "/u/p/a.c:12:13: warning: unused variable 'x' [-Wunused-variable]\n"
            "   12 |         int x;\n"
            "      |             ^\n"
            "WARNING: modpost: \"g\" [/u/p/a.ko] undefined!\n");
  EXPECT_EQ(compiler_messages("make -C /k M=/u/p modules\n  CC [M]  /u/p/a.o\n"), "");
}

// A DKMS folder over the fake kbuild: dkms.conf's make command runs in the build folder
// ($dkms_tree/p/1/build, the copy) and its BUILT_MODULE_LOCATION/NAME is the .ko.
struct FakeDkms : FakeKbuild {
  explicit FakeDkms(const std::string& make) : FakeKbuild(k_writes_ko) {
    fs::remove(path() / "module/Kbuild");
    write("module/dkms.conf", "PACKAGE_NAME=p\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=fake\n"
                              "BUILT_MODULE_LOCATION[0]=sub\nBUILD_EXCLUSIVE_KERNEL='^6\\.1\\.'\n"
                              "MAKE[0]=\"" +
                                  make + "\"\n");
    write("module/sub/Kbuild", "obj-m := fake.o\n");
  }
};

TEST(ModuleBuild, DkmsMakeCommandRunsInItsBuildFolderAndBuiltModuleNameIsTheKo) {
  FakeDkms host(
      "printf '%s' \\\"\\$PWD\\\" > pwd.txt && "
      "make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build/sub");
  for (const char* cache_name : {"cache", "my cache $(x)"}) {
    auto cache = host.path() / cache_name;
    auto built = build_module(host.request(cache));
    ASSERT_TRUE(built.ok()) << built.error().message;
    EXPECT_EQ(built->package_name, "p");
    EXPECT_EQ(built->package_version, "1");
    EXPECT_FALSE(built->excluded);
    ASSERT_EQ(built->ko_files.size(), 1u);
    EXPECT_TRUE(built->ko_files[0].string().ends_with("/src/sub/fake.ko")) << built->ko_files[0];
    auto pwd = read_file(built->ko_files[0].parent_path().parent_path() / "pwd.txt");
    ASSERT_TRUE(pwd.ok());
    EXPECT_TRUE(pwd->ends_with("/dkms/p/1/build")) << *pwd;
    EXPECT_EQ(pwd->find(' '), std::string::npos) << "make was handed a path with a blank: " << *pwd;
    EXPECT_FALSE(fs::exists(host.path() / "module/pwd.txt")) << "ran in the user's folder";
  }
}

TEST(ModuleBuild, DkmsBuildThatDoesNotMakeItsBuiltModuleFails) {
  FakeDkms host("true");
  auto built = build_module(host.request(host.path() / "cache"));
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().code, ExitCode::failed);
  EXPECT_EQ(
      built.error().message,
      fmt::format("module {}: the build for 6.1.0-fake made no sub/fake.ko "
                  "(BUILT_MODULE_NAME[0] and BUILT_MODULE_LOCATION[0] of its dkms.conf name it)",
                  (host.path() / "module").string()));
}

TEST(ModuleBuild, DkmsExcludedKernelRunsNothing) {
  FakeDkms host("touch /dev/null/never");
  auto request = host.request(host.path() / "cache");
  request.kernel.version = "6.12.0-fake";
  auto built = build_module(request);
  ASSERT_TRUE(built.ok()) << built.error().message;
  ASSERT_TRUE(built->excluded);
  EXPECT_EQ(*built->excluded, "BUILD_EXCLUSIVE_KERNEL '^6\\.1\\.' does not match 6.12.0-fake");
  EXPECT_TRUE(built->ko_files.empty());
  EXPECT_FALSE(fs::exists(host.path() / "cache/modules"));
}

} // namespace
} // namespace labctl
