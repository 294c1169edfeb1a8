#include "host/kernel_locator.h"

#include <fmt/format.h>

#include <cctype>
#include <vector>

namespace labctl {

int compare_kernel_versions(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    bool da = i < a.size() && std::isdigit(static_cast<unsigned char>(a[i]));
    bool db = j < b.size() && std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t si = i, sj = j;
      while (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i])))
        ++i;
      while (j < b.size() && std::isdigit(static_cast<unsigned char>(b[j])))
        ++j;
      std::string na = a.substr(si, i - si), nb = b.substr(sj, j - sj);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size())
        return na.size() < nb.size() ? -1 : 1;
      if (int c = na.compare(nb); c != 0)
        return c < 0 ? -1 : 1;
      continue;
    }
    // A release candidate ("~rc") sorts before the release, as in dpkg.
    char ca = i < a.size() ? a[i] : '\0', cb = j < b.size() ? b[j] : '\0';
    auto rank = [](char c) {
      return c == '~' ? -1 : static_cast<int>(static_cast<unsigned char>(c));
    };
    if (rank(ca) != rank(cb))
      return rank(ca) < rank(cb) ? -1 : 1;
    ++i;
    ++j;
  }
  return 0;
}

Result<Kernel> kernel_for_version(const std::string& version, const KernelRoots& roots) {
  Kernel k;
  k.version = version;
  k.image = roots.boot / ("vmlinuz-" + version);
  k.modules_dir = roots.modules / version;
  k.build_dir = k.modules_dir / "build";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(k.image, ec))
    return environment_error(
        fmt::format("kernel image {} not found (install it: apt-get install linux-image-{})",
                    k.image.string(), version));
  if (!std::filesystem::is_directory(k.build_dir, ec))
    return environment_error(
        fmt::format("kernel headers {} not found (install them: apt-get install linux-headers-{})",
                    k.build_dir.string(), version));
  return k;
}

Result<Kernel> find_newest_kernel(const KernelRoots& roots) {
  std::vector<std::string> images, without_headers;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(roots.boot, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("vmlinuz-", 0) != 0 || !entry.is_regular_file(ec))
      continue;
    images.push_back(name.substr(8));
  }
  std::string best;
  for (const auto& version : images) {
    if (!std::filesystem::is_directory(roots.modules / version / "build", ec)) {
      without_headers.push_back(version);
      continue;
    }
    if (best.empty() || compare_kernel_versions(version, best) > 0)
      best = version;
  }
  if (best.empty()) {
    if (images.empty())
      return environment_error(fmt::format(
          "no kernel found: {} has no vmlinuz-* (install one: apt-get install linux-image-amd64 "
          "linux-headers-amd64)",
          roots.boot.string()));
    return environment_error(
        fmt::format("no kernel with headers: {} has vmlinuz-{} but no {}/<version>/build (install: "
                    "apt-get install linux-headers-{})",
                    roots.boot.string(), without_headers.front(), roots.modules.string(),
                    without_headers.front()));
  }
  return kernel_for_version(best, roots);
}

} // namespace labctl
