// `labctl run` end to end: these boot the real Debian kernel under QEMU.
#include "e2e_support.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

namespace labctl::e2e {
namespace {

using namespace std::chrono_literals;

class Run : public ::testing::Test {
protected:
  TempDir artifacts{"labctl-e2e-art"};
  std::vector<std::pair<std::string, std::string>> env() const { return {}; }
  LabctlRun run(std::vector<std::string> args) {
    args.insert(args.begin(), {"run", "--artifacts", artifacts.path().string()});
    return labctl(args);
  }
  void TearDown() override {
    EXPECT_EQ(qemu_processes_using(artifacts.path().string()), 0)
        << "a QEMU process outlived the run";
  }
};

TEST_F(Run, ShippedScenariosPass) {
  auto r = run({"-j", "2", "--keep-going", "scenarios/"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (auto name : {"debugcon", "debugcon-exclusive", "qemu_exercise", "smoke"}) {
    EXPECT_NE(r.out.find(std::string("PASS  ") + name), std::string::npos) << name << "\n" << r.out;
    EXPECT_TRUE(fs::exists(artifacts.path() / name / "console.log")) << name;
    EXPECT_TRUE(fs::exists(artifacts.path() / name / "result.json")) << name;
    EXPECT_TRUE(fs::exists(artifacts.path() / name / "qemu.cmdline")) << name;
    EXPECT_TRUE(fs::exists(artifacts.path() / name / "initrd.txt")) << name;
  }
  auto debugcon = read_file(artifacts.path() / "debugcon" / "debugcon.txt");
  ASSERT_TRUE(debugcon.ok());
  EXPECT_EQ(*debugcon, "hello from Linux\n");
  EXPECT_NE(r.out.find("4 passed, 0 failed"), std::string::npos) << r.out;
}

TEST_F(Run, HangingStepFailsAtItsTimeout) {
  auto r = run({"tests/scenarios/hang.json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("timed out after 3s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("before"), std::string::npos) << "the partial output is shown\n" << r.out;
}

TEST_F(Run, OopsInAStepIsReportedAgainstThatStep) {
  auto r = run({"tests/scenarios/oops-in-step.json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("BUG: kernel NULL pointer dereference"), std::string::npos) << r.out;
  // The user's frame with its file:line replaces the raw report, which is in faults.txt.
  EXPECT_NE(r.out.find("    labctl_fault_write  tests/kmod/labctl_fault/labctl_fault.c:84  "
                       "(labctl_fault_write+0x"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("kernel oops during step 2 (`echo oops > /dev/labctl_fault`, "
                       "tests/scenarios/oops-in-step.json:6)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("labctl_fault_write"), std::string::npos) << r.out;
  auto faults = read_file(artifacts.path() / "oops-in-step" / "faults.txt");
  ASSERT_TRUE(faults.ok());
  EXPECT_NE(faults->find("---[ end trace"), std::string::npos);
  EXPECT_NE(faults->find("Oops: 0002"), std::string::npos);
}

TEST_F(Run, DebugconMismatchShowsADiff) {
  auto r = run({"tests/scenarios/debugcon-mismatch.json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("-line two"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("+line TWO"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first difference at byte 14"), std::string::npos) << r.out;
}

TEST_F(Run, InvalidScenarioIsRejectedBeforeBooting) {
  auto r = run({"tests/scenarios/invalid.json"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("invalid.json:4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'exti'"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(artifacts.path())) << "something booted";
}

TEST_F(Run, MissingKernelIsEnvironmentError) {
  TempDir dir("labctl-e2e-prof");
  auto profile = dir.path() / "p.json";
  ASSERT_TRUE(
      write_file_atomic(profile,
                        R"({"kernel": {"image": "/nonexistent/vmlinuz", "build": "/nonexistent"}})")
          .ok());
  auto r = labctl({"--profile", profile.string(), "run", "--artifacts", artifacts.path().string(),
                   "scenarios/debugcon.json"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("/nonexistent/vmlinuz"), std::string::npos) << r.err;
}

TEST_F(Run, ProfileKernelModulesAreLoadedWithTheirDependencies) {
  TempDir dir("labctl-e2e-prof");
  auto profile = dir.path() / "p.json";
  ASSERT_TRUE(write_file_atomic(profile, R"({"kernel_modules": ["vfat"]})").ok());
  auto r = labctl({"--profile", profile.string(), "run", "--artifacts", artifacts.path().string(),
                   "tests/scenarios/kernel-modules.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto listing = read_file(artifacts.path() / "kernel-modules" / "initrd.txt");
  ASSERT_TRUE(listing.ok());
  EXPECT_NE(listing->find("/kernel/fs/fat/fat.ko\n"), std::string::npos) << *listing;
}

// A folder whose kdep_v4l2 depends on the kernel's videodev (which needs mc) and whose
// kdep_user, first in modules.order, depends on kdep_v4l2: init loads mc, videodev, kdep_v4l2,
// kdep_user, as modprobe would, with no kernel_modules in the profile; the kernel's modules sit
// decompressed in /lib/modules/<release>/kernel/ with the guest's modules.dep naming them, so
// a step's modprobe loads them all again.
TEST_F(Run, AModuleDependingOnTheKernelsModulesLoadsThemFirst) {
  auto r = run({"tests/scenarios/kernel-dep.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS  kernel-dep"), std::string::npos) << r.out;
  auto listing = read_file(artifacts.path() / "kernel-dep" / "initrd.txt");
  ASSERT_TRUE(listing.ok());
  EXPECT_NE(listing->find("/kernel/drivers/media/v4l2-core/videodev.ko\n"), std::string::npos)
      << *listing;
  EXPECT_NE(listing->find("/kernel/drivers/media/mc/mc.ko\n"), std::string::npos) << *listing;
}

TEST_F(Run, WarningsOfAPassingScenarioAreShownUnderItsLine) {
  auto r = labctl(
      {"run", "--artifacts", artifacts.path().string(), "tests/scenarios/warnings-shown.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto pass = r.out.find("PASS  warnings-shown");
  ASSERT_NE(pass, std::string::npos) << r.out;
  std::string where =
      (source_dir() / "tests/kmod/warning/warning.c").string() + ":12:13: warning: unused variable";
  EXPECT_NE(
      r.out.find("  module tests/scenarios/../kmod/warning built with warnings:\n    | ", pass),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(where, pass), std::string::npos) << r.out;
}

// A dependency chain in one folder (Kbuild: zbase before amid; by name amid would come first
// and fail with "unknown symbol") and a bus/client pair in two folders boot in modules.order
// and folder order from /lib/modules/<release>/extra; modprobe, modprobe -r and modinfo work
// in steps through the modules.dep made on the host. `labctl initrd` with the same scenario
// and profile packs the very image run booted.
TEST_F(Run, ModulesLiveInARealLibModulesAndInitrdPacksWhatRunBoots) {
  TempDir dir("labctl-e2e-libmod");
  auto profile = dir.path() / "p.json";
  ASSERT_TRUE(write_file_atomic(profile, R"({"kernel_modules": ["vfat"]})").ok());
  auto r = labctl({"--profile", profile.string(), "run", "--artifacts", artifacts.path().string(),
                   "tests/scenarios/modules-dep.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS  modules-dep"), std::string::npos) << r.out;

  auto out = dir.path() / "initrd.cpio";
  auto initrd = labctl({"--profile", profile.string(), "initrd", "--list", "-o", out.string(),
                        "tests/scenarios/modules-dep.json"});
  ASSERT_EQ(initrd.exit_code, 0) << initrd.err;
  auto listing = read_file(artifacts.path() / "modules-dep" / "initrd.txt");
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(initrd.out, *listing);
  EXPECT_NE(listing->find("/kernel/fs/fat/fat.ko\n"), std::string::npos) << *listing;
  auto cmdline = read_file(artifacts.path() / "modules-dep" / "qemu.cmdline");
  ASSERT_TRUE(cmdline.ok());
  auto at = cmdline->find("-initrd ");
  ASSERT_NE(at, std::string::npos) << *cmdline;
  std::string booted = cmdline->substr(at + 8, cmdline->find(' ', at + 8) - at - 8);
  auto booted_bytes = read_file(booted);
  auto packed_bytes = read_file(out);
  ASSERT_TRUE(booted_bytes.ok()) << booted;
  ASSERT_TRUE(packed_bytes.ok());
  EXPECT_TRUE(*booted_bytes == *packed_bytes)
      << "labctl initrd packed another image than " << booted;
}

// "params": {"zbase": ...} reaches zbase alone (amid would log "unknown parameter"), and
// "load" boots only zbase: amid and stack_bus are shipped for a step's modprobe.
TEST_F(Run, ParamsPerModuleAndLoadChoice) {
  auto r = run({"tests/scenarios/modules-load.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS  modules-load"), std::string::npos) << r.out;
}

TEST_F(Run, SigintMidBootLeavesNoQemu) {
  auto child = spawn({.argv = {LABCTL_BINARY, "run", "--artifacts", artifacts.path().string(),
                               "scenarios/debugcon.json"},
                      .cwd = source_dir(),
                      .out = Stream::pipe,
                      .err = Stream::pipe});
  ASSERT_TRUE(child.ok());
  // Wait until QEMU is up (its console log exists and has bytes), then interrupt.
  auto console = artifacts.path() / "debugcon" / "console.log";
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline &&
         (!fs::exists(console) || fs::file_size(console) == 0))
    std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(fs::exists(console)) << "QEMU never started";
  EXPECT_GT(qemu_processes_using(artifacts.path().string()), 0);
  (*child)->signal(SIGINT);
  auto status = (*child)->wait_for(60s);
  ASSERT_TRUE(status.has_value()) << "labctl did not exit after SIGINT";
  EXPECT_EQ(status->code, 130);
}

} // namespace
} // namespace labctl::e2e
