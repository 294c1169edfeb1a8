#pragma once

#include "config/profile.h"
#include "host/accel.h"

#include <filesystem>
#include <string>
#include <vector>

namespace labctl {

// What every scenario of one labctl invocation shares: the profile, the kernel, the image
// QEMU boots, the accelerator and why, and busybox's applets.
struct LabSetup {
  Profile profile;
  Kernel kernel;
  std::filesystem::path boot_image; // extracted vmlinux, or the bzImage
  std::string boot_image_note;      // why the bzImage is booted, when it is
  AccelChoice accel;
  std::filesystem::path cache;
  std::vector<std::string> busybox_applets;
};

// Resolve and check everything a run needs before any scenario starts; environment errors
// (no QEMU, kernel, headers, busybox, or demanded KVM unusable) are exit code 3.
Result<LabSetup> prepare_lab(const Profile& profile);

// The same for every kernel of a run (resolve_kernels): one LabSetup per kernel, in its
// order, each with its own boot image (extracted and cached per kernel); QEMU, busybox and
// the accelerator are checked and probed once and shared.
Result<std::vector<LabSetup>> prepare_labs(const Profile& profile);

} // namespace labctl
