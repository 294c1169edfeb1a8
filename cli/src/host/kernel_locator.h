#pragma once

#include "core/error.h"

#include <filesystem>
#include <string>

namespace labctl {

// A kernel to boot and build modules against.
struct Kernel {
  std::string version;               // e.g. 6.1.0-56-amd64 ("" when unknown)
  std::filesystem::path image;       // the bzImage (/boot/vmlinuz-V)
  std::filesystem::path build_dir;   // kbuild tree (/lib/modules/V/build)
  std::filesystem::path modules_dir; // /lib/modules/V, for modules.dep ("" when absent)
};

// Where kernels are looked for; tests point these at a fake tree.
struct KernelRoots {
  std::filesystem::path boot = "/boot";
  std::filesystem::path modules = "/lib/modules";
};

// The newest /boot/vmlinuz-V that has /lib/modules/V/build. The running kernel does not
// matter: on CI and in containers it is not the one labctl boots. Environment error when
// none qualifies, saying what was found and what to install.
Result<Kernel> find_newest_kernel(const KernelRoots& roots);

// The kernel for version V under `roots`, checked to exist.
Result<Kernel> kernel_for_version(const std::string& version, const KernelRoots& roots);

// Compare kernel release strings the way dpkg orders versions (6.10 > 6.9, 6.1.0-56 > 6.1.0-9).
int compare_kernel_versions(const std::string& a, const std::string& b);

} // namespace labctl
