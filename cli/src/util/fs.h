#pragma once

#include "util/result.h"

#include <filesystem>
#include <string>
#include <string_view>

namespace labctl {

namespace fs = std::filesystem;

// Read a whole file; the error names the path and errno text.
Result<std::string> read_file(const fs::path& path);

// Write through a temporary file in the same directory and rename, so readers never see
// a half-written file (two labctl runs may fill the same cache entry at once).
Status write_file_atomic(const fs::path& path, std::string_view data);

// $XDG_CACHE_HOME/labctl, else ~/.cache/labctl; LABCTL_CACHE_DIR overrides both.
fs::path cache_root();

// A private (0700) directory removed with everything in it when this object dies.
class TempDir {
public:
  explicit TempDir(std::string_view prefix = "labctl");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;

  const fs::path& path() const { return m_path; }

private:
  fs::path m_path;
};

} // namespace labctl
