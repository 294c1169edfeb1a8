#include "util/content_hash.h"

#include "util/fs.h"

#include <fmt/format.h>

#include <cstdint>

namespace labctl {

ContentHash::ContentHash() : m_state(XXH3_createState()) {
  XXH3_128bits_reset(m_state);
}

ContentHash::~ContentHash() {
  XXH3_freeState(m_state);
}

ContentHash& ContentHash::add(std::string_view field) {
  uint64_t size = field.size();
  XXH3_128bits_update(m_state, &size, sizeof size);
  XXH3_128bits_update(m_state, field.data(), field.size());
  return *this;
}

util::Status ContentHash::add_file(const std::filesystem::path& path) {
  auto data = read_file(path);
  if (!data)
    return data.error();
  add(*data);
  return util::ok_status();
}

std::string ContentHash::hex() const {
  XXH128_hash_t h = XXH3_128bits_digest(m_state);
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

std::string hash_hex(std::string_view data) {
  ContentHash h;
  h.add(data);
  return h.hex();
}

} // namespace labctl
