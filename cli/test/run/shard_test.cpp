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

} // namespace
} // namespace labctl
