#pragma once

#include "config/data_dir.h"
#include "core/error.h"
#include "host/kernel_locator.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// A lab profile (configs/*.json): which kernel, QEMU machine, memory, accelerator and
// kernel command line a scenario boots with. Keys are documented in docs/profile.md.
struct Profile {
  std::filesystem::path file;
  std::string name;

  // Kernel: "auto" (newest with headers), a release "6.1.0-56-amd64", or explicit paths.
  bool kernel_auto = true;
  std::string kernel_version;
  std::filesystem::path kernel_image;
  std::filesystem::path kernel_build;
  std::filesystem::path modules_dir; // /lib/modules/V (JSON "kernel": {"modules": ...})
  // A run over several kernels ("kernels": "all" or a list of releases, "auto" among them
  // for the newest): every scenario runs on each. Empty: the one `kernel` above.
  std::vector<std::string> kernels;

  std::string accel = "auto"; // auto | kvm | tcg
  std::string memory = "256M";
  std::string machine = "pc";
  std::string cpu; // empty: QEMU's default for the accelerator
  int cpus = 1;
  std::string cmdline; // appended to what labctl itself needs
  std::string qemu = "qemu-system-x86_64";
  std::vector<std::string> qemu_args;
  std::string busybox = "/bin/busybox";
  std::string initrd_compression = "gzip"; // gzip | none | zstd (zstd needs kernel support)
  std::string boot = "auto";               // auto (extracted vmlinux, else bzImage) | bzimage
  int boot_timeout = 120;                  // seconds from QEMU start to the guest being ready
  // Modules of the kernel itself (e.g. "virtio_console") that init loads before the
  // scenario's, with their dependencies resolved through modules.dep.
  std::vector<std::string> load_kernel_modules; // the JSON key "kernel_modules"
  // A vmlinux with debug info, for source lines of kernel frames in fault reports: "auto"
  // (Debian's linux-image-<release>-dbg file when installed), "none", or a path (checked to
  // exist when the profile loads).
  std::string debug_vmlinux = "auto";
};

// The debug vmlinux for `release` under the profile's debug_vmlinux: its path, Debian's
// file for "auto" when it exists (debian_debug_vmlinux), else empty (none).
std::filesystem::path debug_vmlinux_for(const Profile& profile, const std::string& release,
                                        const std::filesystem::path& root = "/");

// The first of `args` (a profile's qemu_args) that would make QEMU listen for connections
// (a monitor, QMP, GDB stub, VNC/SPICE, a server chardev, a TCP/UDP backend, port forwarding,
// migration), with why; empty when there is none. QEMU runs as root: whoever connects owns
// the host.
std::string qemu_listener_option(const std::vector<std::string>& args);

// Load and validate a profile; bad input names file:line and key.
Result<Profile> load_profile(const std::filesystem::path& file);
// The same for text already read; `file` names it in messages and anchors relative paths.
Result<Profile> parse_profile(const std::string& text, const std::filesystem::path& file);

// The file a profile argument names, and where it was found ("file" for a path, else the
// ProfileDir's origin).
struct ProfileLocation {
  std::filesystem::path file;
  std::string origin;
};
// A profile argument is a path (contains '/' or ends in .json) or a NAME looked up as
// NAME.json in `dirs`, first match wins; a name in none of them is bad input naming them all.
Result<ProfileLocation> find_profile(const std::string& name_or_file,
                                     const std::vector<ProfileDir>& dirs);
// The profile names (NAME.json) in `dirs`, each once (the first dir's wins), sorted.
std::vector<ProfileLocation> list_profiles(const std::vector<ProfileDir>& dirs);

// The kernel a profile names, checked to exist (environment error otherwise).
Result<Kernel> resolve_kernel(const Profile& profile, const KernelRoots& roots = {});

// The kernels a run uses: `kernels` when set ("all": every kernel with headers, oldest
// first; else each release in order, duplicates dropped), else the one resolve_kernel gives.
Result<std::vector<Kernel>> resolve_kernels(const Profile& profile, const KernelRoots& roots = {});

} // namespace labctl
