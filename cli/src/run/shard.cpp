#include "run/shard.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <charconv>

namespace labctl {

Result<Shard> parse_shard(const std::string& text) {
  Shard s;
  auto slash = text.find('/');
  auto bad = [&] {
    return bad_input(fmt::format("--shard {}: expected K/N with 1 <= K <= N, e.g. 2/4", text));
  };
  if (slash == std::string::npos)
    return bad();
  auto a = std::from_chars(text.data(), text.data() + slash, s.index);
  auto b = std::from_chars(text.data() + slash + 1, text.data() + text.size(), s.count);
  if (a.ec != std::errc() || b.ec != std::errc() || a.ptr != text.data() + slash ||
      b.ptr != text.data() + text.size() || s.count == 0 || s.index == 0 || s.index > s.count)
    return bad();
  return s;
}

std::vector<std::filesystem::path> select_shard(const std::vector<std::filesystem::path>& files,
                                                Shard shard) {
  std::vector<std::filesystem::path> out;
  for (const auto& f : files) {
    std::string name = f.filename().string();
    if (XXH3_64bits(name.data(), name.size()) % shard.count == shard.index - 1)
      out.push_back(f);
  }
  return out;
}

} // namespace labctl
