#include "config/data_dir.h"

#include <cstdlib>

namespace labctl {

std::filesystem::path data_dir() {
  if (const char* home = std::getenv("LABCTL_HOME"); home && *home)
    return home;
  return LABCTL_SOURCE_DIR;
}

} // namespace labctl
