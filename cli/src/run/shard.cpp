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

namespace {

bool in_shard(const std::string& key, Shard shard) {
  return XXH3_64bits(key.data(), key.size()) % shard.count == shard.index - 1;
}

} // namespace

std::vector<std::filesystem::path> select_shard(const std::vector<std::filesystem::path>& files,
                                                Shard shard) {
  std::vector<std::filesystem::path> out;
  for (const auto& f : files)
    if (in_shard(f.filename().string(), shard))
      out.push_back(f);
  return out;
}

std::vector<RunPair> expand_pairs(const std::vector<std::filesystem::path>& files,
                                  const std::vector<std::string>& releases) {
  std::vector<RunPair> out;
  for (size_t s = 0; s < files.size(); ++s)
    for (size_t k = 0; k < releases.size(); ++k)
      out.push_back({s, k,
                     releases.size() > 1
                         ? fmt::format("{}@{}", files[s].filename().string(), releases[k])
                         : files[s].filename().string()});
  return out;
}

std::vector<RunPair> select_shard(const std::vector<RunPair>& pairs, Shard shard) {
  std::vector<RunPair> out;
  for (const auto& p : pairs)
    if (in_shard(p.key, shard))
      out.push_back(p);
  return out;
}

} // namespace labctl
