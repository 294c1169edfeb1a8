#include "run/scenario_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace labctl {
namespace {

std::vector<Scenario> scenarios(size_t count) {
  std::vector<Scenario> out(count);
  for (size_t i = 0; i < count; ++i) {
    out[i].name = "s" + std::to_string(i);
    out[i].file = "/x/s" + std::to_string(i) + ".json";
  }
  return out;
}

ScenarioReport passed(const Scenario& s) {
  ScenarioReport r;
  r.name = s.name;
  return r;
}

TEST(ScenarioPool, AnExceptionInAScenarioBecomesAnErrorForThatScenarioOnly) {
  auto list = scenarios(4);
  std::atomic<int> done{0};
  auto reports = run_scenario_pool(
      list, 4,
      [&](size_t i) -> ScenarioReport {
        if (i == 1)
          throw std::filesystem::filesystem_error("directory iterator cannot open directory",
                                                  "/x/module",
                                                  std::make_error_code(std::errc::io_error));
        if (i == 2)
          throw FatalError(environment_error("cache: No space left on device"));
        return passed(list[i]);
      },
      [&](size_t, const ScenarioReport&) {
        ++done;
        return true;
      });
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_EQ(done, 4);
  for (size_t i : {0u, 3u}) {
    ASSERT_TRUE(reports[i]);
    EXPECT_EQ(reports[i]->verdict, Verdict::passed);
  }
  ASSERT_TRUE(reports[1]);
  EXPECT_EQ(reports[1]->verdict, Verdict::error);
  EXPECT_EQ(reports[1]->exit_code, 3);
  EXPECT_EQ(reports[1]->name, "s1");
  EXPECT_EQ(reports[1]->file, "/x/s1.json");
  ASSERT_EQ(reports[1]->failures.size(), 1u);
  EXPECT_NE(reports[1]->failures[0].find("directory iterator cannot open directory"),
            std::string::npos)
      << reports[1]->failures[0];
  ASSERT_TRUE(reports[2]);
  EXPECT_EQ(reports[2]->verdict, Verdict::error);
  EXPECT_EQ(reports[2]->exit_code, 3);
  EXPECT_EQ(reports[2]->failures, std::vector<std::string>{"cache: No space left on device"});
  EXPECT_EQ(suite_exit_code({*reports[0], *reports[1], *reports[2], *reports[3]}), 3);
}

TEST(ScenarioPool, EachScenarioRunsOnceIntoItsOwnSlot) {
  // Many workers finishing at once: each writes only its own slot (the bits of the
  // std::vector<bool> this replaced shared words between threads).
  auto list = scenarios(200);
  std::vector<std::atomic<int>> runs(list.size());
  auto reports = run_scenario_pool(
      list, 16,
      [&](size_t i) {
        ++runs[i];
        return passed(list[i]);
      },
      [](size_t, const ScenarioReport&) { return true; });
  for (size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(runs[i], 1) << i;
    ASSERT_TRUE(reports[i]) << i;
    EXPECT_EQ(reports[i]->name, list[i].name);
  }
}

TEST(ScenarioPool, NoScenarioStartsAfterOnDoneSaysStop) {
  auto list = scenarios(5);
  auto reports = run_scenario_pool(
      list, 1, [&](size_t i) { return passed(list[i]); },
      [](size_t i, const ScenarioReport&) { return i < 1; });
  EXPECT_TRUE(reports[0] && reports[1]);
  for (size_t i = 2; i < list.size(); ++i)
    EXPECT_FALSE(reports[i]) << i;
}

TEST(ScenarioPool, AfterStopTheStartedGroupStillRunsNoOther) {
  // Three scenarios on two kernels each: entries 0..5, groups 0 0 1 1 2 2.
  auto list = scenarios(6);
  auto reports = run_scenario_pool(
      list, 1, [&](size_t i) { return passed(list[i]); },
      [](size_t i, const ScenarioReport&) { return i != 2; }, // fails on the first kernel
      [](size_t i) { return i / 2; });
  for (size_t i = 0; i < 4; ++i)
    EXPECT_TRUE(reports[i]) << i << ": its group started before the stop";
  EXPECT_FALSE(reports[4]);
  EXPECT_FALSE(reports[5]);
}

} // namespace
} // namespace labctl
