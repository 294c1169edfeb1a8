#include "lab/qemu_command.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace labctl {
namespace {

bool has_pair(const std::vector<std::string>& argv, const std::string& opt, const std::string& val) {
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == opt && argv[i + 1] == val)
      return true;
  return false;
}

QemuLaunch sample() {
  QemuLaunch l;
  l.kernel = "/cache/vmlinux.elf";
  l.initrd = "/cache/initrd.cpio.gz";
  l.append = "console=ttyS0 panic=-1";
  l.control_socket = "/tmp/x/control.sock";
  l.qmp_socket = "/tmp/x/qmp.sock";
  l.debugcon_file = "/art/debugcon.txt";
  return l;
}

TEST(QemuCommand, TcgArgvHasTheEssentials) {
  auto argv = qemu_argv(sample());
  EXPECT_EQ(argv[0], "qemu-system-x86_64");
  for (auto flag : {"-nodefaults", "-no-reboot", "-no-user-config"})
    EXPECT_NE(std::find(argv.begin(), argv.end(), flag), argv.end()) << flag;
  EXPECT_TRUE(has_pair(argv, "-display", "none"));
  EXPECT_TRUE(has_pair(argv, "-accel", "tcg"));
  EXPECT_TRUE(has_pair(argv, "-kernel", "/cache/vmlinux.elf"));
  EXPECT_TRUE(has_pair(argv, "-initrd", "/cache/initrd.cpio.gz"));
  EXPECT_TRUE(has_pair(argv, "-append", "console=ttyS0 panic=-1"));
  EXPECT_TRUE(has_pair(argv, "-serial", "stdio"));
  EXPECT_TRUE(has_pair(argv, "-serial", "chardev:labctl-ctl"));
  EXPECT_TRUE(has_pair(argv, "-chardev", "socket,id=labctl-ctl,path=/tmp/x/control.sock"));
  EXPECT_TRUE(has_pair(argv, "-mon", "chardev=labctl-qmp,mode=control"));
  EXPECT_TRUE(has_pair(argv, "-debugcon", "file:/art/debugcon.txt"));
  // The control channel must be the second serial port: ttyS0 first, then ttyS1.
  auto first = std::find(argv.begin(), argv.end(), "stdio");
  auto second = std::find(argv.begin(), argv.end(), "chardev:labctl-ctl");
  EXPECT_LT(first, second);
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "-cpu"), argv.end());
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "-gdb"), argv.end());
}

TEST(QemuCommand, KvmUsesHostCpuAndProfileValues) {
  auto l = sample();
  l.accel = "kvm";
  l.memory = "1G";
  l.cpus = 2;
  l.machine = "q35";
  l.extra = {"-device", "virtio-rng-pci"};
  auto argv = qemu_argv(l);
  EXPECT_TRUE(has_pair(argv, "-accel", "kvm"));
  EXPECT_TRUE(has_pair(argv, "-cpu", "host"));
  EXPECT_TRUE(has_pair(argv, "-m", "1G"));
  EXPECT_TRUE(has_pair(argv, "-smp", "2"));
  EXPECT_TRUE(has_pair(argv, "-machine", "q35"));
  EXPECT_EQ(argv[argv.size() - 2], "-device");
}

TEST(QemuCommand, GdbStubBindsLoopbackOnly) {
  auto l = sample();
  l.gdb_port = 1234;
  l.gdb_wait = true;
  auto argv = qemu_argv(l);
  EXPECT_TRUE(has_pair(argv, "-gdb", "tcp:127.0.0.1:1234"));
  EXPECT_NE(std::find(argv.begin(), argv.end(), "-S"), argv.end());
}

TEST(QemuCommand, EachTracePatternIsOneOptionAndTheFileIsNamedOnce) {
  auto l = sample();
  l.trace = "memory_region_ops_write,pci_*";
  l.trace_file = "/art/trace.log";
  auto argv = qemu_argv(l);
  EXPECT_TRUE(has_pair(argv, "-trace", "enable=memory_region_ops_write,file=/art/trace.log"));
  EXPECT_TRUE(has_pair(argv, "-trace", "enable=pci_*"));
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "-trace"), 2);
  l.trace.clear();
  auto none = qemu_argv(l);
  EXPECT_EQ(std::find(none.begin(), none.end(), "-trace"), none.end());
}

TEST(QemuCommand, CmdlineCarriesNonceThenProfile) {
  Profile p;
  p.cmdline = "quiet loglevel=3";
  EXPECT_EQ(kernel_cmdline(p, "abc123", false), "console=ttyS0 panic=-1 labctl.boot=abc123 quiet loglevel=3");
  EXPECT_NE(kernel_cmdline(p, "abc123", true).find("nokaslr"), std::string::npos);
}

} // namespace
} // namespace labctl
