#include "host/accel.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <linux/kvm.h>
#include <sstream>
#include <sys/ioctl.h>
#include <unistd.h>

namespace labctl {

KvmFacts probe_kvm(const std::filesystem::path& device, const std::filesystem::path& cpuinfo) {
  KvmFacts facts;
  std::ifstream in(cpuinfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0)
      continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string flag;
    while (words >> flag)
      facts.cpu_has_virt = facts.cpu_has_virt || flag == "vmx" || flag == "svm";
    break;
  }
  std::error_code ec;
  facts.device_exists = std::filesystem::exists(device, ec);
  if (!facts.device_exists) {
    facts.device_error = fmt::format("{} does not exist", device.string());
    return facts;
  }
  int fd = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    facts.device_error = fmt::format("cannot open {}: {}", device.string(), std::strerror(errno));
    return facts;
  }
  int api = ::ioctl(fd, KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION) {
    facts.device_error = fmt::format("{}: KVM_GET_API_VERSION returned {}", device.string(), api);
  } else {
    int vm = ::ioctl(fd, KVM_CREATE_VM, 0);
    if (vm < 0) {
      facts.device_error =
          fmt::format("{}: KVM_CREATE_VM failed: {}", device.string(), std::strerror(errno));
    } else {
      ::close(vm);
      facts.device_usable = true;
    }
  }
  ::close(fd);
  return facts;
}

AccelChoice choose_accel(const std::string& setting, const KvmFacts& facts) {
  if (setting == "tcg")
    return {"tcg", "the profile asks for TCG", true};
  std::string why_not;
  if (!facts.device_exists || !facts.device_usable)
    why_not = facts.device_error.empty() ? "/dev/kvm is not usable" : facts.device_error;
  else if (!facts.cpu_has_virt)
    why_not = "/dev/kvm exists but the CPU has no vmx/svm flag (no nested virtualization: "
              "a KVM guest would hang)";
  if (why_not.empty())
    return {"kvm",
            setting == "kvm" ? "the profile asks for KVM and it is usable"
                             : "/dev/kvm is usable and the CPU has hardware virtualization",
            true};
  if (setting == "kvm")
    return {"kvm", "the profile asks for KVM but " + why_not, false};
  return {"tcg", why_not + "; using TCG (software emulation)", true};
}

} // namespace labctl
