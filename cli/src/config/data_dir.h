#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace labctl {

// Where labctl's own data lives (configs/, initrd/, templates/, scenarios/, kmod/):
// $LABCTL_HOME when set; else, for a binary inside the build tree it was built in, that
// tree's source checkout; else (an installed binary) <its folder>/../share/labctl, found
// from /proc/self/exe, so a moved prefix and DESTDIR staging work.
std::filesystem::path data_dir();

inline std::filesystem::path configs_dir() {
  return data_dir() / "configs";
}
inline std::filesystem::path initrd_dir() {
  return data_dir() / "initrd";
}
inline std::filesystem::path templates_dir() {
  return data_dir() / "templates";
}

// A folder profile names are looked up in, and what it is ("project", "user", ...).
struct ProfileDir {
  std::filesystem::path dir;
  std::string origin;
};

// Where `--profile NAME` is looked up, first match wins: ./configs (the project: the
// current folder's configs/), $XDG_CONFIG_HOME/labctl (default ~/.config/labctl), then
// data_dir()/configs (the installed profiles, or the source checkout's).
std::vector<ProfileDir> profile_search_dirs();

} // namespace labctl
