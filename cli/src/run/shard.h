#pragma once

#include "core/error.h"

#include <filesystem>
#include <string>
#include <vector>

namespace labctl {

// The K-th of N shards (1-based), as given by --shard K/N.
struct Shard {
  unsigned index = 1;
  unsigned count = 1;
};

// Parse "K/N" with 1 <= K <= N; bad input otherwise.
Result<Shard> parse_shard(const std::string& text);

// The scenarios that belong to `shard`: chosen by a hash of each file's name, so a
// scenario stays in its shard when others are added or removed, and every scenario is in
// exactly one shard.
std::vector<std::filesystem::path> select_shard(const std::vector<std::filesystem::path>& files,
                                                Shard shard);

} // namespace labctl
