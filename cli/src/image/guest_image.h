#pragma once

#include "core/error.h"
#include "image/initrd_writer.h"
#include "image/module_deps.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// A built module as the guest gets it: installed as
// /lib/modules/<release>/extra/<name>.ko and, when `load`, insmod'ed at boot in order with
// its params.
struct GuestModuleFile {
  std::string name;         // module name (the .ko's stem)
  std::filesystem::path ko; // on the host
  std::string params;
  bool load = true; // false: shipped, for a step to modprobe
};

// Where the guest finds a kernel module that modules.dep spells `path`
// ("kernel/drivers/media/mc/mc.ko.xz"): /lib/modules/<release>/kernel/drivers/media/mc/mc.ko,
// decompressed, as modprobe finds it through the guest's modules.dep.
std::string guest_kernel_module_path(const std::string& release, const std::string& path);

// Where the guest finds a scenario module: /lib/modules/<release>/extra/<name>.ko, so that
// modprobe and modinfo find it through the modules.dep depmod made for that folder.
std::string guest_module_path(const std::string& release, const std::string& name);

// Everything that goes into a guest's initrd.
struct GuestImageSpec {
  std::filesystem::path busybox;
  std::vector<std::string> applets; // "bin/sh", "sbin/mdev", ...
  std::filesystem::path initrd_dir; // init.sh and agent.sh
  std::vector<GuestModuleFile> modules;
  // The kernel release the guest boots (uname -r); the modules and their modules.dep go
  // under /lib/modules/<release>/. Empty: "unknown" (modprobe then finds nothing).
  std::string release;
  std::filesystem::path depmod = "depmod"; // run on the host: depmod -b <staging> <release>
  std::map<std::string, std::filesystem::path> files; // guest path -> host file
  // The kernel's own modules, in load order (kernel_modules_for), installed decompressed as
  // /lib/modules/<release>/<path, .ko> and in the guest's modules.dep; those with `boot`
  // are insmod'ed before `modules`.
  std::vector<KernelModuleFile> kernel_modules;
  std::filesystem::path kernel_modules_dir; // /lib/modules/V on the host
  std::string compression = "gzip";
  // The profile's memory ("256M"); when set, an initrd that would not fit is refused
  // before anything is read (see initrd_fits_problem).
  std::string memory;
};

// The bytes of RAM a profile `memory` value gives the guest, as QEMU's -m reads it ("256"
// and "256M" are MiB, "512K", "1G"); 0 when it is not such a size.
uint64_t memory_size_bytes(std::string_view memory);

// Whether `memory` is such a size: digits and an optional K, M or G.
bool is_memory_size(std::string_view memory);

// The kernel unpacks the initrd into the rootfs, a tmpfs limited to half the RAM it sees
// (less than -m gives); k_initrd_memory_margin more keeps room for that and for the
// packed archive, which stays in RAM while it is unpacked.
inline constexpr uint64_t k_initrd_memory_margin = 32ull << 20;

// Why files adding up to `unpacked_bytes` cannot boot in a guest with `memory` (the
// profile's value), or empty: they must fit in memory / 2 - k_initrd_memory_margin.
// `largest` names the biggest contribution for the message ("files entry '/big' (600 MiB)").
std::string initrd_fits_problem(uint64_t unpacked_bytes, const std::string& memory,
                                const std::string& largest);

// A guest path labctl's own image relies on. A scenario's `files` entry may not be it nor,
// when `below`, lie under it: init and the agent would be replaced, or a mount would hide
// the file. This is the one list of them; the first entry that matches is named.
struct ReservedGuestPath {
  std::string_view path;
  bool below; // everything under the path is reserved too
  std::string_view why;
};
inline constexpr std::array<ReservedGuestPath, 11> k_reserved_guest_paths = {{
    {"/init", false, "it is labctl's init, PID 1"},
    {"/bin/busybox", false, "init and the agent run on it"},
    {"/bin/sh", false, "it runs init and the agent"},
    {"/lib/labctl", true, "labctl's agent lives there"},
    {"/run/labctl", true, "labctl's agent keeps its state there"},
    {"/lib/modules", true, "the scenario's modules and their modules.dep live there"},
    {"/proc", true, "init mounts proc on /proc, which would hide it"},
    {"/sys", true, "init mounts sysfs on /sys, which would hide it"},
    {"/dev", true, "init mounts devtmpfs on /dev, which would hide it"},
    {"/tmp", true, "init mounts a tmpfs on /tmp, which would hide it"},
    {"/run", true, "init mounts a tmpfs on /run, which would hide it"},
}};

// Why `guest` cannot be a scenario file in the initrd (not a valid initrd path, or
// reserved), or empty when it can.
std::string scenario_file_path_problem(const std::string& guest);

// A packed initrd in the cache and what it contains.
struct GuestImage {
  std::filesystem::path path;
  std::vector<std::string> listing;
  bool cached = false;
};

// Pack (or reuse) the initrd for `spec`: deterministic bytes, cached under
// cache_dir/initrd/<content hash>.cpio with its size and hash in <...>.cpio.sum; an entry
// whose bytes no longer match is packed again.
Result<GuestImage> build_guest_image(const GuestImageSpec& spec,
                                     const std::filesystem::path& cache_dir);

} // namespace labctl
