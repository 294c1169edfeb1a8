#include "lab/qemu_command.h"

#include <fmt/format.h>

#include <algorithm>

namespace labctl {

std::vector<std::string> qemu_argv(const QemuLaunch& l) {
  std::vector<std::string> argv = {
      l.qemu,
      "-nodefaults",
      "-no-user-config",
      "-no-reboot",
      "-display", "none",
      "-machine", l.machine,
      "-accel", l.accel,
      "-m", l.memory,
      "-smp", std::to_string(l.cpus),
  };
  std::string cpu = l.cpu.empty() && l.accel == "kvm" ? "host" : l.cpu;
  if (!cpu.empty()) {
    argv.push_back("-cpu");
    argv.push_back(cpu);
  }
  argv.insert(argv.end(), {"-kernel", l.kernel.string(), "-initrd", l.initrd.string(), "-append",
                           l.append});
  // ttyS0: the kernel console on QEMU's stdio; ttyS1: the control channel, a socket that
  // labctl already listens on, so no byte is lost before labctl is ready.
  argv.insert(argv.end(), {"-serial", "stdio", "-chardev",
                           fmt::format("socket,id=labctl-ctl,path={}", l.control_socket.string()),
                           "-serial", "chardev:labctl-ctl"});
  argv.insert(argv.end(), {"-chardev",
                           fmt::format("socket,id=labctl-qmp,path={}", l.qmp_socket.string()),
                           "-mon", "chardev=labctl-qmp,mode=control"});
  argv.insert(argv.end(), {"-debugcon", "file:" + l.debugcon_file.string()});
  if (l.gdb_port > 0) {
    argv.insert(argv.end(), {"-gdb", fmt::format("tcp:127.0.0.1:{}", l.gdb_port)});
    if (l.gdb_wait)
      argv.push_back("-S");
  }
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
  std::string cmdline = fmt::format("console=ttyS0 panic=-1 labctl.boot={}", boot_nonce);
  if (gdb)
    cmdline += " nokaslr";
  if (!profile.cmdline.empty())
    cmdline += " " + profile.cmdline;
  return cmdline;
}

} // namespace labctl
