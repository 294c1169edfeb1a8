#include "vm/qemu_command.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace labctl {
namespace {

bool has_pair(const std::vector<std::string>& argv, const std::string& opt,
              const std::string& val) {
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

// gdb's `monitor` runs HMP commands as root: the stub must be on a unix socket in the
// private folder, never on a TCP port any local user can reach.
TEST(QemuCommand, GdbStubIsAUnixSocketServerAndNothingListensOnTcp) {
  auto l = sample();
  l.gdb = true;
  l.gdb_socket = "/tmp/x/gdb.sock";
  l.gdb_wait = true;
  auto argv = qemu_argv(l);
  EXPECT_TRUE(
      has_pair(argv, "-chardev", "socket,id=labctl-gdb,path=/tmp/x/gdb.sock,server=on,wait=off"));
  EXPECT_TRUE(has_pair(argv, "-gdb", "chardev:labctl-gdb"));
  EXPECT_NE(std::find(argv.begin(), argv.end(), "-S"), argv.end());
  // QEMU creates chardevs in order: the stub's socket exists once labctl has accepted the
  // control and QMP connections, so labctl can chmod it then.
  auto gdb = std::find(argv.begin(), argv.end(),
                       "socket,id=labctl-gdb,path=/tmp/x/gdb.sock,server=on,wait=off");
  auto ctl = std::find(argv.begin(), argv.end(), "socket,id=labctl-ctl,path=/tmp/x/control.sock");
  EXPECT_LT(gdb, ctl);
  for (const auto& arg : argv) {
    EXPECT_EQ(arg.find("tcp"), std::string::npos) << arg;
    EXPECT_EQ(arg.find("telnet"), std::string::npos) << arg;
    EXPECT_EQ(arg.find("127.0.0.1"), std::string::npos) << arg;
    EXPECT_EQ(arg.find("host="), std::string::npos) << arg;
    EXPECT_EQ(arg.find("port="), std::string::npos) << arg;
    EXPECT_EQ(arg.find("websocket"), std::string::npos) << arg;
  }
  // Only one socket QEMU serves, the stub's; labctl's own listen in the same folder.
  EXPECT_EQ(
      std::count_if(argv.begin(), argv.end(),
                    [](const std::string& a) { return a.find("server") != std::string::npos; }),
      1);
  // No option that opens a monitor, display server or network of QEMU's own.
  for (auto opt : {"-monitor", "-qmp", "-qmp-pretty", "-vnc", "-spice", "-s", "-incoming", "-net",
                   "-nic", "-netdev"})
    EXPECT_EQ(std::find(argv.begin(), argv.end(), opt), argv.end()) << opt;
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "-serial"), 2);
  EXPECT_TRUE(has_pair(argv, "-display", "none"));
}

TEST(QemuCommand, NoGdbMeansNoStubAndNoHalt) {
  auto argv = qemu_argv(sample());
  for (const auto& arg : argv)
    EXPECT_EQ(arg.find("gdb"), std::string::npos) << arg;
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "-S"), argv.end());
}

TEST(QemuCommand, CommasInSocketPathsAreDoubledForQemu) {
  auto l = sample();
  l.gdb = true;
  l.gdb_socket = "/tmp/a,b/gdb.sock";
  l.control_socket = "/tmp/a,b/control.sock";
  auto argv = qemu_argv(l);
  EXPECT_TRUE(has_pair(argv, "-chardev",
                       "socket,id=labctl-gdb,path=/tmp/a,,b/gdb.sock,server=on,wait=off"));
  EXPECT_TRUE(has_pair(argv, "-chardev", "socket,id=labctl-ctl,path=/tmp/a,,b/control.sock"));
}

// A profile's qemu_args must not open what labctl's own argv keeps shut.
TEST(QemuCommand, ProfileArgsThatListenAreFoundAndOrdinaryOnesAreNot) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"-gdb", "tcp::1234"},
           {"-s"},
           {"--monitor", "stdio"},
           {"-qmp", "unix:/tmp/q.sock,server=on,wait=off"},
           {"-vnc", ":0"},
           {"-display", "vnc=:1"},
           {"-spice", "port=5900"},
           {"-serial", "telnet:127.0.0.1:4444,server=on"},
           {"-chardev", "socket,id=c,host=0.0.0.0,port=4444,server=on"},
           {"-chardev", "socket,id=c,path=/tmp/c.sock,server"},
           {"-netdev", "user,id=n,hostfwd=tcp::2222-:22"},
           {"-netdev", "socket,id=n,listen=:1234"},
           {"-chardev", "udp,id=u,port=4555,localport=4556"},
           {"-incoming", "defer"}})
    EXPECT_NE(qemu_listener_option(args), "") << args[0] << " " << (args.size() > 1 ? args[1] : "");
  EXPECT_EQ(qemu_listener_option({"-device", "virtio-rng-pci", "-device",
                                  "pcie-root-port,port=0x10,chassis=1", "-device",
                                  "vfio-pci,host=01:00.0", "-netdev", "user,id=n", "-object",
                                  "memory-backend-ram,id=m,size=64M"}),
            "");
  EXPECT_EQ(qemu_listener_option({"-vnc", ":0"}),
            "\"-vnc\" opens a monitor, debugger or display port");
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
  EXPECT_EQ(kernel_cmdline(p, "abc123", false),
            "console=ttyS0 panic=-1 no_timer_check labctl.boot=abc123 quiet loglevel=3");
  EXPECT_NE(kernel_cmdline(p, "abc123", true).find("nokaslr"), std::string::npos);
}

} // namespace
} // namespace labctl
