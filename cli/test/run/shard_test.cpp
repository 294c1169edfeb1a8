#include "run/shard.h"

#include <gtest/gtest.h>

#include <set>

namespace labctl {
namespace {

TEST(Shard, ParsesKOverN) {
  auto s = parse_shard("2/4");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->index, 2u);
  EXPECT_EQ(s->count, 4u);
  for (auto bad : {"0/4", "5/4", "1/0", "2", "a/b", "1/2x", ""}) {
    auto r = parse_shard(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ExitCode::bad_input);
  }
}

TEST(Shard, EveryScenarioInExactlyOneShardAndStable) {
  std::vector<std::filesystem::path> files;
  for (int i = 0; i < 50; ++i)
    files.push_back("scenarios/s" + std::to_string(i) + ".json");
  std::multiset<std::string> seen;
  for (unsigned k = 1; k <= 3; ++k)
    for (const auto& f : select_shard(files, {k, 3}))
      seen.insert(f.string());
  EXPECT_EQ(seen.size(), files.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), files.size());
  // Adding scenarios does not move the existing ones.
  auto before = select_shard(files, {2, 3});
  files.push_back("scenarios/new.json");
  auto after = select_shard(files, {2, 3});
  for (const auto& f : before)
    EXPECT_NE(std::find(after.begin(), after.end(), f), after.end());
}

TEST(Shard, PairsAreEveryScenarioOnEveryKernelNamedWithTheRelease) {
  std::vector<std::filesystem::path> files = {"scenarios/a.json", "scenarios/b.json"};
  auto pairs = expand_pairs(files, {"6.1.0-57-amd64", "6.12.118+deb12-amd64"});
  EXPECT_EQ(pairs, (std::vector<RunPair>{{0, 0, "a.json@6.1.0-57-amd64"},
                                         {0, 1, "a.json@6.12.118+deb12-amd64"},
                                         {1, 0, "b.json@6.1.0-57-amd64"},
                                         {1, 1, "b.json@6.12.118+deb12-amd64"}}));
  // One kernel: the keys are the file names, so shards are what they were without pairs.
  auto single = expand_pairs(files, {"6.1.0-57-amd64"});
  EXPECT_EQ(single, (std::vector<RunPair>{{0, 0, "a.json"}, {1, 0, "b.json"}}));
}

TEST(Shard, EveryPairInExactlyOneShardAndStable) {
  std::vector<std::filesystem::path> files;
  for (int i = 0; i < 30; ++i)
    files.push_back("scenarios/s" + std::to_string(i) + ".json");
  std::vector<std::string> kernels = {"6.1.0-57-amd64", "6.12.118+deb12-amd64"};
  auto pairs = expand_pairs(files, kernels);
  std::multiset<std::string> seen;
  size_t split = 0; // scenarios whose two kernels landed in different shards
  for (unsigned k = 1; k <= 3; ++k)
    for (const auto& p : select_shard(pairs, {k, 3}))
      seen.insert(p.key);
  EXPECT_EQ(seen.size(), pairs.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), pairs.size());
  for (size_t s = 0; s < files.size(); ++s) {
    auto shard_of = [&](size_t pair) {
      for (unsigned k = 1; k <= 3; ++k)
        for (const auto& p : select_shard({pairs[pair]}, {k, 3}))
          if (p == pairs[pair])
            return k;
      return 0u;
    };
    split += shard_of(2 * s) != shard_of(2 * s + 1);
  }
  EXPECT_GT(split, 0u) << "pairs, not scenarios, are sharded";
  // A third kernel moves no existing pair.
  auto before = select_shard(pairs, {2, 3});
  kernels.push_back("6.13.0-1-amd64");
  auto after = select_shard(expand_pairs(files, kernels), {2, 3});
  for (const auto& p : before)
    EXPECT_NE(
        std::find_if(after.begin(), after.end(), [&](const RunPair& a) { return a.key == p.key; }),
        after.end())
        << p.key;
}

} // namespace
} // namespace labctl
