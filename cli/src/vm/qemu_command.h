#pragma once

#include "config/profile.h"

#include <filesystem>
#include <string>
#include <vector>

namespace labctl {

// Everything that decides a QEMU command line for one VM.
struct QemuLaunch {
  std::string qemu = "qemu-system-x86_64";
  std::filesystem::path kernel; // bzImage or extracted vmlinux (PVH ELF)
  std::filesystem::path initrd;
  std::string append;        // the kernel command line
  std::string accel = "tcg"; // kvm | tcg
  std::string machine = "pc";
  std::string memory = "256M";
  int cpus = 1;
  std::string cpu;                      // empty: QEMU's default (host with KVM)
  std::filesystem::path control_socket; // labctl listens; QEMU connects (ttyS1)
  std::filesystem::path qmp_socket;     // labctl listens; QEMU connects (QMP)
  std::filesystem::path debugcon_file;
  bool gdb = false;                 // a GDB stub on gdb_socket
  std::filesystem::path gdb_socket; // QEMU listens; only root can reach it (0700 folder)
  bool gdb_wait = false;            // start halted (-S)
  std::string trace;                // -trace patterns, comma-separated; empty: none
  std::filesystem::path trace_file;
  std::vector<std::string> extra; // the profile's qemu_args, last
};

// The argv (never a shell string) for `launch`. QEMU listens on nothing but the GDB stub's
// unix socket: gdb's `monitor` runs HMP commands as QEMU's user (root), so a TCP port would
// hand the host to every local user.
std::vector<std::string> qemu_argv(const QemuLaunch& launch);

// The kernel command line: what labctl needs (console, panic, boot nonce) then the profile's.
std::string kernel_cmdline(const Profile& profile, const std::string& boot_nonce, bool gdb = false);

} // namespace labctl
