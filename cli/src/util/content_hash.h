#pragma once

#include "util/result.h"

#include <xxhash.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace labctl {

// A 128-bit content hash (XXH3) for cache keys; not for security.
class ContentHash {
public:
  ContentHash();
  ~ContentHash();
  ContentHash(const ContentHash&) = delete;
  ContentHash& operator=(const ContentHash&) = delete;

  // Adds a length-prefixed field, so ("ab","c") and ("a","bc") hash differently.
  ContentHash& add(std::string_view field);
  // Adds a file's path-independent contents; the error names the file.
  util::Status add_file(const std::filesystem::path& path);

  // 32 lowercase hex digits.
  std::string hex() const;

private:
  XXH3_state_t* m_state;
};

std::string hash_hex(std::string_view data);

} // namespace labctl
