#include "run/lab_setup.h"

#include "host/vmlinux_extractor.h"
#include "image/busybox_applets.h"
#include "run/doctor.h"
#include "util/fs.h"
#include "util/process.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace labctl {

Result<LabSetup> prepare_lab(const Profile& profile) {
  LabSetup lab;
  lab.profile = profile;
  lab.cache = cache_root();
  if (find_program(profile.qemu).empty())
    return environment_error(
        fmt::format("{} not found (install it: apt-get install qemu-system-x86)", profile.qemu));
  auto kernel = resolve_kernel(profile);
  if (!kernel)
    return kernel.error();
  lab.kernel = *kernel;
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

  if (profile.boot == "bzimage") {
    lab.boot_image = lab.kernel.image;
    lab.boot_image_note = "the profile asks for the bzImage";
  } else {
    lab.boot_image = bootable_kernel(lab.kernel.image, lab.cache, &lab.boot_image_note);
    if (lab.boot_image == lab.kernel.image)
      spdlog::debug("booting the bzImage: {}", lab.boot_image_note);
    else
      spdlog::debug("booting the extracted vmlinux {}", lab.boot_image.string());
  }

  lab.accel = choose_accel(profile.accel, probe_kvm());
  if (!lab.accel.ok)
    return environment_error(fmt::format("{}: {}", profile.file.string(), lab.accel.reason));
  spdlog::info("accel: {} ({})", lab.accel.accel, lab.accel.reason);
  return lab;
}

} // namespace labctl
