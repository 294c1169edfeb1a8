#pragma once

#include <filesystem>

namespace labctl {

// Where labctl's own data lives (configs/, initrd/, kmod/): $LABCTL_HOME, else the
// source tree this binary was built from.
std::filesystem::path data_dir();

inline std::filesystem::path configs_dir() {
  return data_dir() / "configs";
}
inline std::filesystem::path initrd_dir() {
  return data_dir() / "initrd";
}

} // namespace labctl
