#include "vm/qemu_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

namespace labctl {

namespace {

// A value inside a QEMU option list ("key=value,key=value"), where a comma is written twice.
std::string opt_value(const std::filesystem::path& path) {
  std::string out;
  for (char c : path.string()) {
    out += c;
    if (c == ',')
      out += ',';
  }
  return out;
}

} // namespace

std::vector<std::string> qemu_argv(const QemuLaunch& l) {
  // No default devices (-nodefaults: no monitor, serial, NIC or display of QEMU's choosing)
  // and no display: the only things QEMU listens on are named below.
  std::vector<std::string> argv = {
      l.qemu,
      "-nodefaults",
      "-no-user-config",
      "-no-reboot",
      "-display",
      "none",
      "-machine",
      l.machine,
      "-accel",
      l.accel,
      "-m",
      l.memory,
      "-smp",
      std::to_string(l.cpus),
  };
  std::string cpu = l.cpu.empty() && l.accel == "kvm" ? "host" : l.cpu;
  if (!cpu.empty()) {
    argv.push_back("-cpu");
    argv.push_back(cpu);
  }
  argv.insert(argv.end(),
              {"-kernel", l.kernel.string(), "-initrd", l.initrd.string(), "-append", l.append});
  if (l.gdb) {
    // Before the control and QMP chardevs, which QEMU creates in order: once labctl has
    // accepted those two, this socket exists.
    argv.insert(argv.end(), {"-chardev",
                             fmt::format("socket,id=labctl-gdb,path={},server=on,wait=off",
                                         opt_value(l.gdb_socket)),
                             "-gdb", "chardev:labctl-gdb"});
    if (l.gdb_wait)
      argv.push_back("-S");
  }
  // ttyS0: the kernel console on QEMU's stdio; ttyS1: the control channel, a socket that
  // labctl already listens on, so no byte is lost before labctl is ready.
  argv.insert(argv.end(), {"-serial", "stdio", "-chardev",
                           fmt::format("socket,id=labctl-ctl,path={}", opt_value(l.control_socket)),
                           "-serial", "chardev:labctl-ctl"});
  argv.insert(argv.end(),
              {"-chardev", fmt::format("socket,id=labctl-qmp,path={}", opt_value(l.qmp_socket)),
               "-mon", "chardev=labctl-qmp,mode=control"});
  argv.insert(argv.end(), {"-debugcon", "file:" + l.debugcon_file.string()});
  // One -trace per pattern; the file is global, so naming it once is enough.
  bool first_trace = true;
  for (size_t start = 0, end = 0; start < l.trace.size(); start = end + 1) {
    end = std::min(l.trace.find(',', start), l.trace.size());
    if (end == start)
      continue;
    std::string option = "enable=" + l.trace.substr(start, end - start);
    if (first_trace)
      option += ",file=" + l.trace_file.string();
    first_trace = false;
    argv.insert(argv.end(), {"-trace", option});
  }
  argv.insert(argv.end(), l.extra.begin(), l.extra.end());
  return argv;
}

std::string kernel_cmdline(const Profile& profile, const std::string& boot_nonce, bool gdb) {
  // no_timer_check: under TCG on a loaded host the boot's check that the IO-APIC timer
  // ticks can miss its window and panic ("IO-APIC + timer doesn't work!"), seen on a busy
  // 2-core CI machine; QEMU's emulated timer is known to work, so the check only adds a
  // way to fail by coincidence.
  std::string cmdline =
      fmt::format("console=ttyS0 panic=-1 no_timer_check labctl.boot={}", boot_nonce);
  if (gdb)
    cmdline += " nokaslr";
  if (!profile.cmdline.empty())
    cmdline += " " + profile.cmdline;
  return cmdline;
}

} // namespace labctl
