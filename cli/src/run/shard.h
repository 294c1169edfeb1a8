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

// One result of a run: scenario `scenario` (an index into the run's scenarios) on kernel
// `kernel` (an index into its kernels).
struct RunPair {
  size_t scenario = 0;
  size_t kernel = 0;
  // What shards it and names its result: the scenario file's name, plus "@<release>" when
  // the run has several kernels (with one, a run names and shards as it always did).
  std::string key;

  bool operator==(const RunPair&) const = default;
};

// Every scenario on every kernel, scenario by scenario (smoke@6.1, smoke@6.12, trace@6.1...).
std::vector<RunPair> expand_pairs(const std::vector<std::filesystem::path>& files,
                                  const std::vector<std::string>& releases);

// The pairs that belong to `shard`, by a hash of each key: a pair stays in its shard when
// other scenarios or kernels are added or removed.
std::vector<RunPair> select_shard(const std::vector<RunPair>& pairs, Shard shard);

} // namespace labctl
