#include "config/data_dir.h"

#include <cstdlib>
#include <system_error>

namespace labctl {

namespace {

namespace fs = std::filesystem;

bool is_inside(const fs::path& path, const fs::path& folder) {
  auto rel = path.lexically_relative(folder);
  return !rel.empty() && *rel.begin() != "..";
}

} // namespace

fs::path data_dir() {
  if (const char* home = std::getenv("LABCTL_HOME"); home && *home)
    return home;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  // LABCTL_BIN_TO_DATA: bin/ → share/labctl as a relative path (GNUInstallDirs).
  fs::path installed = (exe.parent_path() / LABCTL_BIN_TO_DATA).lexically_normal();
  if (!exe.empty() && fs::exists(installed / "initrd" / "init.sh", ec))
    return installed;
  if (exe.empty() || is_inside(exe, fs::weakly_canonical(LABCTL_BUILD_DIR, ec)))
    return LABCTL_SOURCE_DIR;
  return installed; // an incomplete install: what is missing is named there
}

std::vector<ProfileDir> profile_search_dirs() {
  std::vector<ProfileDir> dirs;
  std::error_code ec;
  dirs.push_back({fs::current_path(ec) / "configs", "project"});
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
    dirs.push_back({fs::path(xdg) / "labctl", "user"});
  else if (const char* user = std::getenv("HOME"); user && *user)
    dirs.push_back({fs::path(user) / ".config" / "labctl", "user"});
  const char* home = std::getenv("LABCTL_HOME");
  bool labctl_home = home && *home;
  dirs.push_back({configs_dir(), labctl_home ? "LABCTL_HOME" : "installed"});
  return dirs;
}

} // namespace labctl
