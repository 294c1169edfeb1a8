#pragma once

#include "config/profile.h"

#include <string>
#include <vector>

namespace labctl {

// One prerequisite: present or not, what was found, what to install when missing.
struct DoctorCheck {
  std::string name;
  bool ok = false;
  bool required = true;
  std::string detail; // what was found, or why it is not usable
  std::string fix;    // the command that fixes it, when it is missing
};

// Check everything `labctl run` needs for this profile: its kernel(s), then one "release"
// line per kernel that has an image and headers (the one "auto" picks marked), saying
// whether its vmlinux extracts for the PVH path (extracted into `cache`'s vmlinux cache;
// an empty `cache` leaves that out).
std::vector<DoctorCheck> run_doctor(const Profile& profile, const KernelRoots& roots = {},
                                    const std::filesystem::path& cache = {});

// True when the file is an ELF executable without a program interpreter (statically linked).
bool is_static_elf(const std::filesystem::path& path);

} // namespace labctl
