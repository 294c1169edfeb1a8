// QEMU tracing end to end: --trace help, a scenario counting trace lines, and a wrong count.
#include "e2e_support.h"

#include <gtest/gtest.h>

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
