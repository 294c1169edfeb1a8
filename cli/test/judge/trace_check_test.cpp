#include "judge/trace_check.h"

#include "util/regex.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

constexpr std::string_view k_log =
    "memory_region_ops_write cpu 0 mr 0x5 addr 0x70 value 0x8f size 1 name 'rtc-index'\n"
    "memory_region_ops_write cpu 0 mr 0x7 addr 0xe9 value 0x68 size 1 name 'isa-debugcon'\n"
    "memory_region_ops_write cpu 0 mr 0x7 addr 0xe9 value 0x69 size 1 name 'isa-debugcon'\n"
    "memory_region_ops_write cpu 0 mr 0x7 addr 0xe9 value 0x0a size 1 name 'isa-debugcon'";

constexpr const char* k_debugcon = "addr 0xe9 .* name 'isa-debugcon'$";

TEST(TraceCheck, CountsMatchingLinesOnceEach) {
  EXPECT_EQ(count_trace_lines(k_log, Regex::compile(k_debugcon).take()), 3u);
  EXPECT_EQ(count_trace_lines(k_log, Regex::compile("memory_region").take()), 4u);
  EXPECT_EQ(count_trace_lines(k_log, Regex::compile("0x").take()), 4u);
  EXPECT_EQ(count_trace_lines(k_log, Regex::compile("nothing").take()), 0u);
  EXPECT_EQ(count_trace_lines("", Regex::compile("^").take()), 0u);
}

TEST(TraceCheck, JudgesExactCountsDebugconBytesAndPresence) {
  std::vector<TraceExpectation> ok = {{k_debugcon, 3, false, 1},
                                      {k_debugcon, std::nullopt, true, 2},
                                      {"rtc-index", std::nullopt, false, 3}};
  EXPECT_TRUE(judge_trace(ok, k_log, 3).empty());

  std::vector<TraceExpectation> bad = {{k_debugcon, 4, false, 1},
                                       {k_debugcon, std::nullopt, true, 2},
                                       {"apic", std::nullopt, false, 3}};
  auto failures = judge_trace(bad, k_log, 5);
  ASSERT_EQ(failures.size(), 3u);
  EXPECT_EQ(failures[0], "trace: /addr 0xe9 .* name 'isa-debugcon'$/ matched 3 lines, expected 4");
  EXPECT_EQ(failures[1], "trace: /addr 0xe9 .* name 'isa-debugcon'$/ matched 3 lines, expected 5 "
                         "(the bytes in debugcon.txt)");
  EXPECT_EQ(failures[2], "trace: /apic/ matched no line of trace.log");
}

TEST(TraceCheck, PatternsJoinScenarioThenCommandLine) {
  EXPECT_EQ(trace_patterns({"a", "b_*"}, "c"), "a,b_*,c");
  EXPECT_EQ(trace_patterns({}, "c"), "c");
  EXPECT_EQ(trace_patterns({"a"}, ""), "a");
  EXPECT_EQ(trace_patterns({}, ""), "");
}

TEST(TraceCheck, GlobMatchesLikeQemu) {
  EXPECT_TRUE(trace_pattern_matches("memory_region_ops_write", "memory_region_ops_write"));
  EXPECT_TRUE(trace_pattern_matches("memory_region_ops_*", "memory_region_ops_write"));
  EXPECT_TRUE(trace_pattern_matches("*ops*", "memory_region_ops_write"));
  EXPECT_TRUE(trace_pattern_matches("pci_cfg_?ead", "pci_cfg_read"));
  EXPECT_TRUE(trace_pattern_matches("*", "x"));
  EXPECT_FALSE(trace_pattern_matches("memory_region_ops_wrte", "memory_region_ops_write"));
  EXPECT_FALSE(trace_pattern_matches("memory_region", "memory_region_ops_write"));
  EXPECT_FALSE(trace_pattern_matches("?", "xy"));
  EXPECT_FALSE(trace_pattern_matches("a*b", "axbx"));
}

TEST(TraceCheck, PatternProblemNamesTyposAndForeignCharacters) {
  std::vector<std::string> events = {"memory_region_ops_write", "pci_cfg_read"};
  EXPECT_EQ(trace_pattern_problem("memory_region_ops_write", events), "");
  EXPECT_EQ(trace_pattern_problem("pci_*", events), "");
  EXPECT_EQ(trace_pattern_problem("-pci_cfg_read", events), "") << "a leading - disables";
  EXPECT_EQ(trace_pattern_problem("memory_region_ops_wrte", events),
            "'memory_region_ops_wrte' matches no trace event of this QEMU");
  EXPECT_EQ(trace_pattern_problem("usb_*", events), "'usb_*' matches no trace event of this QEMU");
  for (const char* bad : {"a;b", "file=/etc/passwd", "x y", "a/b"})
    EXPECT_NE(trace_pattern_problem(bad, events).find("is not a QEMU trace event name or pattern"),
              std::string::npos)
        << bad;
  EXPECT_EQ(trace_pattern_problem("", events), "an empty trace pattern");
}

TEST(TraceCheck, NoPatternsAsksNothingOfQemu) {
  // A QEMU that does not exist would fail the spawn; with nothing to check it is not run.
  EXPECT_TRUE(check_trace_patterns("/nonexistent/qemu", {}, "").ok());
}

} // namespace
} // namespace labctl
