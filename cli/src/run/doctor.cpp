#include "run/doctor.h"

#include "host/accel.h"
#include "host/vmlinux_extractor.h"
#include "util/fs.h"
#include "util/process.h"

#include <elf.h>
#include <fmt/format.h>

#include <cstring>

namespace labctl {

bool is_static_elf(const std::filesystem::path& path) {
  auto data = read_file(path);
  if (!data || data->size() < sizeof(Elf64_Ehdr) || data->compare(0, 4, ELFMAG) != 0)
    return false;
  Elf64_Ehdr eh;
  std::memcpy(&eh, data->data(), sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64)
    return false;
  for (size_t i = 0; i < eh.e_phnum; ++i) {
    size_t off = eh.e_phoff + i * eh.e_phentsize;
    if (off + sizeof(Elf64_Phdr) > data->size())
      return false;
    Elf64_Phdr ph;
    std::memcpy(&ph, data->data() + off, sizeof ph);
    if (ph.p_type == PT_INTERP)
      return false;
  }
  return true;
}

namespace {

DoctorCheck program_check(const std::string& name, const std::string& program,
                          const std::string& package, bool required, bool show_version) {
  DoctorCheck c{name, false, required, "", "apt-get install " + package};
  auto path = find_program(program);
  if (path.empty()) {
    c.detail = program + " not found in PATH";
    return c;
  }
  c.ok = true;
  c.detail = path.string();
  if (show_version) {
    auto ran = run_capture({.argv = {path.string(), "--version"}}, std::chrono::seconds(10));
    if (ran && ran->status.success()) {
      std::string first = ran->out.substr(0, ran->out.find('\n'));
      c.detail = fmt::format("{} ({})", first, path.string());
    } else {
      c.ok = false;
      c.detail = fmt::format("{} --version failed", path.string());
    }
  }
  return c;
}

// Optional: kernel frames of fault reports get source lines from it.
DoctorCheck debug_vmlinux_check(const Profile& profile, const std::string& release) {
  DoctorCheck c{"vmlinux", true, false, "", ""};
  if (profile.debug_vmlinux == "none") {
    c.detail = "debug vmlinux off (the profile's debug_vmlinux is \"none\")";
    return c;
  }
  auto path = debug_vmlinux_for(profile, release);
  if (!path.empty()) {
    c.detail = fmt::format("debug vmlinux {}: kernel frames of fault reports get source lines",
                           path.string());
    return c;
  }
  c.ok = false;
  c.detail = fmt::format("no debug vmlinux for {} ({} is absent): fault reports resolve only "
                         "the modules' frames to source lines",
                         release, debian_debug_vmlinux(release).string());
  c.fix = fmt::format("apt-get install linux-image-{}-dbg", release);
  return c;
}

} // namespace

std::vector<DoctorCheck> run_doctor(const Profile& profile, const KernelRoots& roots,
                                    const fs::path& cache) {
  std::vector<DoctorCheck> checks;
  checks.push_back(program_check("qemu", profile.qemu, "qemu-system-x86", true, true));

  auto kernels = resolve_kernels(profile, roots);
  if (kernels) {
    for (const auto& kernel : *kernels) {
      checks.push_back({"kernel", true, true, kernel.image.string(), ""});
      checks.push_back({"headers", true, true, kernel.build_dir.string(), ""});
      checks.push_back(debug_vmlinux_check(profile, kernel.version));
    }
  } else {
    bool headers = kernels.error().message.find("headers") != std::string::npos;
    checks.push_back({headers ? "headers" : "kernel", false, true, kernels.error().message,
                      "apt-get install linux-image-amd64 linux-headers-amd64"});
  }
  // Every kernel a run could use (--kernel all), and the one "auto" picks.
  auto newest = find_newest_kernel(roots);
  for (const auto& kernel : find_kernels(roots)) {
    std::string boot;
    if (!cache.empty()) {
      std::string why_not;
      auto booted = bootable_kernel(kernel.image, cache, &why_not);
      boot = booted == kernel.image ? "bzImage only (" + why_not + ")"
                                    : "vmlinux extracts (PVH fast path)";
    }
    bool is_auto = newest && newest->version == kernel.version;
    checks.push_back({"release", true, false,
                      fmt::format("{}{}: image {}, headers {}{}", kernel.version,
                                  is_auto ? " (auto)" : "", kernel.image.string(),
                                  kernel.build_dir.string(), boot.empty() ? "" : ", " + boot),
                      ""});
  }

  DoctorCheck busybox{"busybox", false, true, "", "apt-get install busybox-static"};
  std::error_code ec;
  if (!std::filesystem::exists(profile.busybox, ec))
    busybox.detail = profile.busybox + " not found";
  else if (!is_static_elf(profile.busybox))
    busybox.detail = profile.busybox + " is not a static binary (the initrd has no libc)";
  else {
    busybox.ok = true;
    busybox.detail = profile.busybox + " (static)";
  }
  checks.push_back(busybox);

  checks.push_back(program_check("gcc", "gcc", "gcc", true, false));
  checks.push_back(program_check("make", "make", "make", true, false));
  checks.push_back(program_check("gdb", "gdb", "gdb", false, false));

  auto accel = choose_accel(profile.accel, probe_kvm());
  checks.push_back({"accel", accel.ok, true, fmt::format("{}: {}", accel.accel, accel.reason),
                    accel.ok ? "" : "set \"accel\": \"auto\" or \"tcg\" in the profile"});
  return checks;
}

} // namespace labctl
