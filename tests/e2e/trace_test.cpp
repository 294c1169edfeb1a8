// QEMU tracing end to end: --trace help, a scenario counting trace lines, and a wrong count.
#include "e2e_support.h"

#include <gtest/gtest.h>

#include <chrono>

namespace labctl::e2e {
namespace {

class Trace : public ::testing::Test {
protected:
  TempDir artifacts{"labctl-e2e-trace"};
  void TearDown() override {
    EXPECT_EQ(qemu_processes_using(artifacts.path().string()), 0)
        << "a QEMU process outlived the run";
  }
};

TEST_F(Trace, HelpListsQemuTraceEvents) {
  auto r = labctl({"run", "--trace", "help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("memory_region_ops_write\n"), std::string::npos) << r.out.substr(0, 500);
}

TEST_F(Trace, DebugconBytesEqualIsaDebugconWriteLines) {
  auto r =
      labctl({"run", "--artifacts", artifacts.path().string(), "tests/scenarios/trace-count.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto dir = artifacts.path() / "trace-count";
  auto debugcon = read_file(dir / "debugcon.txt");
  ASSERT_TRUE(debugcon.ok());
  EXPECT_EQ(debugcon->size(), 1019u);
  auto qemu_cmdline = read_file(dir / "qemu.cmdline");
  ASSERT_TRUE(qemu_cmdline.ok());
  EXPECT_NE(qemu_cmdline->find("-trace enable=memory_region_ops_write,file=" +
                               (dir / "trace.log").string()),
            std::string::npos)
      << *qemu_cmdline;
}

TEST_F(Trace, WrongCountFailsWithBothNumbers) {
  auto scenario = artifacts.path() / "wrong-count.json";
  ASSERT_TRUE(write_file_atomic(scenario, fmt::format(R"({{
  "modules": ["{}"],
  "trace": ["memory_region_ops_write"],
  "steps": [{{"run": "printf abc > /dev/debugcon"}}],
  "expect": {{"trace": [{{"regex": "addr 0xe9 .* name 'isa-debugcon'$", "count": 4}}]}}
}})",
                                                      (source_dir() / "kmod/debugcon").string()))
                  .ok());
  auto r = labctl({"run", "--artifacts", (artifacts.path() / "out").string(), scenario.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("matched 3 lines, expected 4"), std::string::npos) << r.out;
}

// Bad patterns are refused against `-trace help` before anything is built or booted; they
// used to reach QEMU and end in exit 3 ("QEMU failed to start") after a wait.
TEST_F(Trace, PatternThatMatchesNoEventIsBadInputBeforeAnythingBoots) {
  auto out = artifacts.path() / "out";
  auto started = std::chrono::steady_clock::now();
  for (const char* pattern : {"memory_region_ops_wrte", "memory_region_ops_write;id",
                              "memory_region_ops_write,file=/tmp/x", "nothing_like_this_*"}) {
    auto r = labctl({"run", "--trace", pattern, "--artifacts", out.string(),
                     "tests/scenarios/trace-count.json"});
    EXPECT_EQ(r.exit_code, 2) << pattern << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(fmt::format("--trace {}: '", pattern)), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'labctl run --trace help' lists the events"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(out / "trace-count" / "console.log")) << "QEMU was started";
  // Four runs that boot would take far longer; without a boot each is well under a second.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
}

TEST_F(Trace, ScenarioPatternThatMatchesNoEventNamesItsLine) {
  auto scenario = artifacts.path() / "typo.json";
  ASSERT_TRUE(write_file_atomic(scenario, R"({
  "trace": ["memory_region_ops_write",
            "memory_region_ops_wrte"]
})")
                  .ok());
  auto r = labctl({"run", "--artifacts", (artifacts.path() / "out").string(), scenario.string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("typo.json:3: key 'trace': 'memory_region_ops_wrte' matches no trace "
                       "event of this QEMU"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(artifacts.path() / "out" / "typo" / "console.log"));
}

TEST_F(Trace, TraceExpectationWithoutEventsIsBadInput) {
  auto scenario = artifacts.path() / "no-events.json";
  ASSERT_TRUE(write_file_atomic(scenario, R"({
  "expect": {"trace": [{"regex": "x", "count": 1}]}
})")
                  .ok());
  auto r = labctl({"run", "--artifacts", (artifacts.path() / "out").string(), scenario.string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no-events.json:2: key 'trace'"), std::string::npos) << r.err;
}

} // namespace
} // namespace labctl::e2e
