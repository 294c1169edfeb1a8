#pragma once

#include <filesystem>
#include <string>

namespace labctl {

// What the host says about KVM. "Usable" needs more than /dev/kvm: without nested
// virtualization the device exists, QEMU starts, and the guest hangs forever.
struct KvmFacts {
  bool device_exists = false;
  bool device_usable = false; // opened read-write, KVM_GET_API_VERSION == 12, KVM_CREATE_VM ok
  bool cpu_has_virt = false;  // vmx or svm in /proc/cpuinfo
  std::string device_error;   // why the device is not usable
};

// Probe the host; paths are parameters so tests can use fake files.
KvmFacts probe_kvm(const std::filesystem::path& device = "/dev/kvm",
                   const std::filesystem::path& cpuinfo = "/proc/cpuinfo");

// The accelerator chosen and the one-line reason for it.
struct AccelChoice {
  std::string accel; // "kvm" or "tcg"
  std::string reason;
  bool ok = true; // false when the profile demands kvm and it is not usable
};

// Decide from the profile's setting (auto | kvm | tcg) and the probed facts.
AccelChoice choose_accel(const std::string& setting, const KvmFacts& facts);

} // namespace labctl
