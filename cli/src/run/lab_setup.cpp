#include "run/lab_setup.h"

#include "host/vmlinux_extractor.h"
#include "image/busybox_applets.h"
#include "run/doctor.h"
#include "util/fs.h"
#include "util/process.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace labctl {

namespace {

Status check_qemu(const Profile& profile) {
  if (find_program(profile.qemu).empty())
    return environment_error(
        fmt::format("{} not found (install it: apt-get install qemu-system-x86)", profile.qemu));
  return ok_status();
}

// Everything but the kernel, its boot image and the accelerator.
Result<LabSetup> prepare_common(const Profile& profile) {
  LabSetup lab;
  lab.profile = profile;
  lab.cache = cache_root();
  std::error_code ec;
  if (!std::filesystem::exists(profile.busybox, ec))
    return environment_error(fmt::format(
        "busybox {} not found (install it: apt-get install busybox-static)", profile.busybox));
  if (!is_static_elf(profile.busybox))
    return environment_error(fmt::format(
        "{} is not statically linked; the initrd has no libc (apt-get install busybox-static)",
        profile.busybox));
  auto applets = busybox_applets(profile.busybox);
  if (!applets)
    return applets.error();
  lab.busybox_applets = *applets;
  return lab;
}

Status choose_lab_accel(LabSetup& lab) {
  lab.accel = choose_accel(lab.profile.accel, probe_kvm());
  if (!lab.accel.ok)
    return environment_error(fmt::format("{}: {}", lab.profile.file.string(), lab.accel.reason));
  spdlog::info("accel: {} ({})", lab.accel.accel, lab.accel.reason);
  return ok_status();
}

LabSetup with_kernel(LabSetup lab, const Kernel& kernel) {
  lab.kernel = kernel;
  if (lab.profile.boot == "bzimage") {
    lab.boot_image = lab.kernel.image;
    lab.boot_image_note = "the profile asks for the bzImage";
  } else {
    lab.boot_image = bootable_kernel(lab.kernel.image, lab.cache, &lab.boot_image_note);
    if (lab.boot_image == lab.kernel.image)
      spdlog::debug("{}: booting the bzImage: {}", kernel.version, lab.boot_image_note);
    else
      spdlog::debug("{}: booting the extracted vmlinux {}", kernel.version,
                    lab.boot_image.string());
  }
  return lab;
}

} // namespace

Result<LabSetup> prepare_lab(const Profile& profile) {
  if (auto s = check_qemu(profile); !s)
    return s.error();
  auto kernel = resolve_kernel(profile);
  if (!kernel)
    return kernel.error();
  auto common = prepare_common(profile);
  if (!common)
    return common.error();
  LabSetup lab = with_kernel(std::move(*common), *kernel);
  if (auto s = choose_lab_accel(lab); !s)
    return s.error();
  return lab;
}

Result<std::vector<LabSetup>> prepare_labs(const Profile& profile) {
  if (auto s = check_qemu(profile); !s)
    return s.error();
  auto kernels = resolve_kernels(profile);
  if (!kernels)
    return kernels.error();
  auto common = prepare_common(profile);
  if (!common)
    return common.error();
  if (auto s = choose_lab_accel(*common); !s)
    return s.error();
  std::vector<LabSetup> labs;
  for (const auto& kernel : *kernels)
    labs.push_back(with_kernel(*common, kernel));
  return labs;
}

} // namespace labctl
