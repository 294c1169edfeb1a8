#include "host/kernel_locator.h"

#include <fmt/format.h>

#include <algorithm>
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

std::vector<Kernel> find_kernels(const KernelRoots& roots) {
  std::vector<std::string> releases;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(roots.boot, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("vmlinuz-", 0) != 0 || !entry.is_regular_file(ec))
      continue;
    if (std::filesystem::is_directory(roots.modules / name.substr(8) / "build", ec))
      releases.push_back(name.substr(8));
  }
  std::sort(releases.begin(), releases.end(), [](const std::string& a, const std::string& b) {
    return compare_kernel_versions(a, b) < 0;
  });
  std::vector<Kernel> out;
  for (const auto& release : releases)
    if (auto k = kernel_for_version(release, roots))
      out.push_back(*k);
  return out;
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

namespace {

bool numbers_only(const std::string& v) {
  return !v.empty() && std::isdigit(static_cast<unsigned char>(v.front())) &&
         std::isdigit(static_cast<unsigned char>(v.back())) &&
         v.find_first_not_of("0123456789.") == std::string::npos &&
         v.find("..") == std::string::npos;
}

// The first `count` numbers of a release: ("6.12.118+deb12-amd64", 2) -> "6.12".
std::string leading_numbers(const std::string& release, size_t count) {
  std::string out;
  size_t i = 0;
  for (size_t n = 0; n < count; ++n) {
    size_t start = i;
    while (i < release.size() && std::isdigit(static_cast<unsigned char>(release[i])))
      ++i;
    if (i == start)
      break;
    out += (n ? "." : "") + release.substr(start, i - start);
    if (i >= release.size() || release[i] != '.')
      break;
    ++i;
  }
  return out;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

} // namespace

util::Result<KernelFilter> KernelFilter::constraints(const std::string& text) {
  KernelFilter f;
  f.m_text = text;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string part =
        trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    size_t op_len = part.find_first_not_of("<>=!");
    std::string op = part.substr(0, std::min(op_len, part.size()));
    std::string version = trim(part.substr(op.size()));
    if (op == "=")
      op = "==";
    constexpr const char* k_ops[] = {">=", ">", "<=", "<", "==", "!="};
    if (std::find(std::begin(k_ops), std::end(k_ops), op) == std::end(k_ops) || version.empty() ||
        !std::isdigit(static_cast<unsigned char>(version.front())) ||
        version.find_first_of(" \t") != std::string::npos)
      return util::Failure{fmt::format("'{}' is not a version constraint (expected >=, >, <=, <, "
                                       "== or != and a version, e.g. \">=6.4\" or "
                                       "\">=5.15,<6.4\"; a list [\"6.1\"] names releases)",
                                       part)};
    f.m_constraints.push_back({op, version});
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return f;
}

util::Result<KernelFilter> KernelFilter::releases(const std::vector<std::string>& list) {
  KernelFilter f;
  if (list.empty())
    return util::Failure{"an empty list applies to no kernel (leave the key out for all)"};
  for (const auto& r : list) {
    if (trim(r).empty() || trim(r) != r)
      return util::Failure{fmt::format("'{}' is not a kernel release or release prefix", r)};
    f.m_releases.push_back(r);
  }
  return f;
}

bool KernelFilter::applies_to(const std::string& release) const {
  if (!m_releases.empty())
    return std::any_of(m_releases.begin(), m_releases.end(), [&](const std::string& p) {
      // A prefix ends where a number ends: "6.1" is not a prefix of 6.12.
      return release.rfind(p, 0) == 0 &&
             (release.size() == p.size() ||
              !std::isdigit(static_cast<unsigned char>(release[p.size()])) ||
              !std::isdigit(static_cast<unsigned char>(p.back())));
    });
  return std::all_of(m_constraints.begin(), m_constraints.end(), [&](const Constraint& c) {
    std::string have = release;
    if (numbers_only(c.version))
      have = leading_numbers(
          release, static_cast<size_t>(std::count(c.version.begin(), c.version.end(), '.')) + 1);
    int cmp = compare_kernel_versions(have, c.version);
    if (c.op == ">=")
      return cmp >= 0;
    if (c.op == ">")
      return cmp > 0;
    if (c.op == "<=")
      return cmp <= 0;
    if (c.op == "<")
      return cmp < 0;
    if (c.op == "==")
      return cmp == 0;
    return cmp != 0;
  });
}

std::string KernelFilter::describe() const {
  if (m_releases.empty())
    return fmt::format("'{}'", m_text);
  std::string list;
  for (const auto& r : m_releases)
    list += (list.empty() ? "" : ", ") + r;
  return "[" + list + "]";
}

std::filesystem::path debian_debug_vmlinux(const std::string& release,
                                           const std::filesystem::path& root) {
  return root / "usr/lib/debug/boot" / ("vmlinux-" + release);
}

} // namespace labctl
