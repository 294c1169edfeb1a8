#pragma once

#include "core/error.h"

#include <filesystem>
#include <string>
#include <vector>

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

// Every /boot/vmlinuz-V that has /lib/modules/V/build, oldest first (compare_kernel_versions);
// empty when none does.
std::vector<Kernel> find_kernels(const KernelRoots& roots);

// The kernel for version V under `roots`, checked to exist.
Result<Kernel> kernel_for_version(const std::string& version, const KernelRoots& roots);

// Where Debian's linux-image-<release>-dbg package puts the kernel's vmlinux with its debug
// info: /usr/lib/debug/boot/vmlinux-<release> (under `root`).
std::filesystem::path debian_debug_vmlinux(const std::string& release,
                                           const std::filesystem::path& root = "/");

// Compare kernel release strings the way dpkg orders versions (6.10 > 6.9, 6.1.0-56 > 6.1.0-9).
int compare_kernel_versions(const std::string& a, const std::string& b);

// Which kernels a scenario applies to (its "kernels" key): either version constraints
// (">=6.4", "<6.4", ">=5.15,<6.4": every one must hold) or a list of releases and release
// prefixes ("6.1" matches 6.1.0-57-amd64 but not 6.12.118+deb12-amd64).
class KernelFilter {
public:
  // "OP VERSION[,OP VERSION...]", OP one of >= > <= < == !=. A VERSION of numbers only
  // ("6.4") is compared with as many numbers of the release ("6.12.118+deb12-amd64" is 6.12
  // against "6.4"), so "<=6.12" holds for every 6.12 kernel; any other VERSION is compared
  // with the whole release. The error is the problem alone, for the caller to place.
  static util::Result<KernelFilter> constraints(const std::string& text);
  // Releases or prefixes; an empty one is an error.
  static util::Result<KernelFilter> releases(const std::vector<std::string>& list);

  bool applies_to(const std::string& release) const;
  // How the scenario wrote it: "'>=6.4'" or "[6.1, 6.12.118+deb12-amd64]".
  std::string describe() const;

private:
  struct Constraint {
    std::string op;
    std::string version;
  };
  std::vector<Constraint> m_constraints;
  std::vector<std::string> m_releases;
  std::string m_text;
};

} // namespace labctl
