// The command line itself: help, version, exit codes for bad usage, doctor.
#include "e2e_support.h"
#include "host/kernel_locator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

namespace labctl::e2e {
namespace {

bool cpu_has_virt() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0)
      return line.find(" vmx") != std::string::npos || line.find(" svm") != std::string::npos;
  return false;
}

TEST(Cli, HelpDocumentsExitCodesOnEverySubcommand) {
  for (std::vector<std::string> args : {std::vector<std::string>{"--help"},
                                        {"run", "--help"},
                                        {"shell", "--help"},
                                        {"build", "--help"},
                                        {"initrd", "--help"},
                                        {"doctor", "--help"},
                                        {"list", "--help"},
                                        {"new", "--help"}}) {
    auto r = labctl(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_NE(r.out.find("130  interrupted"), std::string::npos) << args[0] << "\n" << r.out;
  }
}

// The shell needs keys to read: without a terminal the flag is refused before anything is
// loaded, built or booted.
TEST(Cli, ShellOnFailureWithoutATerminalIsRefused) {
  TempDir tmp("labctl-e2e-cli");
  auto artifacts = tmp.path() / "runs";
  auto r = labctl({"run", "--shell-on-failure", "--artifacts", artifacts.string(),
                   "tests/scenarios/shell-on-failure.json"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--shell-on-failure needs a terminal: stdin is not a tty"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(artifacts)) << "the run started";
}

TEST(Cli, VersionAndUsageErrors) {
  auto v = labctl({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("labctl ", 0), 0u) << v.out;
  EXPECT_EQ(labctl({}).exit_code, 2);
  EXPECT_EQ(labctl({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(labctl({"run"}).exit_code, 2);
}

TEST(Cli, ListShowsShippedScenariosWithDescriptions) {
  auto r = labctl({"list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (auto name : {"debugcon ", "debugcon-exclusive", "qemu_exercise", "smoke"})
    EXPECT_NE(r.out.find(name), std::string::npos) << name << "\n" << r.out;
  EXPECT_NE(r.out.find("one opener at a time"), std::string::npos) << r.out;
}

TEST(Doctor, ReportsEveryPrerequisiteAndTheAccelWithItsReason) {
  auto r = labctl({"doctor"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (auto name : {"qemu", "kernel", "headers", "busybox", "gcc", "make", "gdb", "accel"})
    EXPECT_NE(r.out.find(std::string(" ") + name), std::string::npos) << name << "\n" << r.out;
  EXPECT_NE(r.out.find("QEMU emulator version"), std::string::npos) << r.out;
  if (fs::exists("/dev/kvm") && !cpu_has_virt()) {
    // The CI machines: /dev/kvm exists but there is no nested virtualization.
    EXPECT_NE(r.out.find("tcg: /dev/kvm exists but the CPU has no vmx/svm flag"), std::string::npos)
        << r.out;
  }
}

TEST(Doctor, SaysWhetherADebugVmlinuxGivesKernelFramesSourceLinesAndHowToGetOne) {
  auto kernel = find_newest_kernel({});
  ASSERT_TRUE(kernel.ok());
  auto r = labctl({"doctor"});
  EXPECT_EQ(r.exit_code, 0) << "a debug vmlinux is optional\n" << r.out << r.err;
  if (fs::exists(debian_debug_vmlinux(kernel->version))) {
    EXPECT_NE(r.out.find("ok       vmlinux  debug vmlinux " +
                         debian_debug_vmlinux(kernel->version).string()),
              std::string::npos)
        << r.out;
  } else {
    EXPECT_NE(r.out.find("missing  vmlinux  no debug vmlinux for " + kernel->version),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("-> apt-get install linux-image-" + kernel->version + "-dbg"),
              std::string::npos)
        << r.out;
  }
}

TEST(Doctor, ListsEveryKernelWithHeadersAndWhichOneAutoPicks) {
  auto kernels = find_kernels({});
  ASSERT_FALSE(kernels.empty());
  auto r = labctl({"doctor"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const auto& k : kernels) {
    std::string line =
        fmt::format("ok       release  {}{}: image {}, headers {}, ", k.version,
                    &k == &kernels.back() ? " (auto)" : "", k.image.string(), k.build_dir.string());
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  // Debian's kernels carry the PVH note: each one's vmlinux extracts.
  size_t pvh = 0;
  for (size_t at = 0;
       (at = r.out.find("vmlinux extracts (PVH fast path)", at)) != std::string::npos; ++at)
    ++pvh;
  EXPECT_EQ(pvh, kernels.size()) << r.out;
  // --kernel all: the kernel and headers checks cover each of them.
  auto all = labctl({"--kernel", "all", "doctor"});
  EXPECT_EQ(all.exit_code, 0) << all.out << all.err;
  for (const auto& k : kernels)
    EXPECT_NE(all.out.find("ok       headers  " + k.build_dir.string()), std::string::npos)
        << all.out;
}

TEST(Doctor, KernelOptionOverridesTheProfilesKernels) {
  auto kernels = find_kernels({});
  ASSERT_FALSE(kernels.empty());
  TempDir dir("labctl-e2e-doc");
  auto p = dir.path() / "p.json";
  ASSERT_TRUE(write_file_atomic(p, R"({"kernels": "all"})").ok());
  auto count = [](const std::string& out, const std::string& what) {
    size_t n = 0;
    for (size_t at = 0; (at = out.find(what, at)) != std::string::npos; ++at)
      ++n;
    return n;
  };
  auto all = labctl({"--profile", p.string(), "doctor"});
  EXPECT_EQ(all.exit_code, 0) << all.out << all.err;
  EXPECT_EQ(count(all.out, "ok       kernel   "), kernels.size()) << all.out;
  // An image path or one release: that kernel alone.
  for (const std::string& one : {kernels.front().image.string(), kernels.front().version}) {
    auto r = labctl({"--profile", p.string(), "--kernel", one, "doctor"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(count(r.out, "ok       kernel   "), 1u) << one << "\n" << r.out;
    EXPECT_NE(r.out.find("ok       kernel   " + kernels.front().image.string()), std::string::npos)
        << r.out;
  }
  auto bad = labctl({"--profile", p.string(), "--kernel", "6.1.0-57-amd64,,x", "doctor"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("--kernel 6.1.0-57-amd64,,x: expected all, auto, a kernel image, or "
                         "releases separated by commas"),
            std::string::npos)
      << bad.err;
}

TEST(Doctor, MissingKernelIsEnvironmentErrorWithTheFix) {
  TempDir dir("labctl-e2e-doc");
  auto p = dir.path() / "p.json";
  ASSERT_TRUE(
      write_file_atomic(p, R"({"kernel": "9.9.9-none", "busybox": "/nonexistent/busybox"})").ok());
  auto r = labctl({"--profile", p.string(), "doctor"});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_NE(r.out.find("MISSING  kernel"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("apt-get install busybox-static"), std::string::npos) << r.out;
}

TEST(Doctor, BadProfileIsBadInputNamingFileLineAndKey) {
  TempDir dir("labctl-e2e-doc");
  auto p = dir.path() / "p.json";
  ASSERT_TRUE(write_file_atomic(p, "{\n  \"acel\": \"tcg\"\n}\n").ok());
  auto r = labctl({"--profile", p.string(), "doctor"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(p.string() + ":2: key 'acel'"), std::string::npos) << r.err;
}

} // namespace
} // namespace labctl::e2e
