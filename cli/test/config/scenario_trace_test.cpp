// The scenario format's trace keys: top-level "trace" and expect.trace.
#include "config/scenario.h"

#include "test_support.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

class ScenarioTrace : public ::testing::Test {
protected:
  Result<Scenario> load(const std::string& text) {
    return load_scenario(m_dir.write("t.json", text));
  }
  test::ScratchDir m_dir;
};

TEST_F(ScenarioTrace, EventsAndExpectations) {
  auto s = load(R"({
  "trace": ["memory_region_ops_write", "pci_cfg_*"],
  "expect": {"trace": [
    {"regex": "isa-debugcon", "count": "debugcon_bytes"},
    {"regex": "rtc", "count": 0},
    {"regex": "pci"}
  ]}
})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->trace, (std::vector<std::string>{"memory_region_ops_write", "pci_cfg_*"}));
  ASSERT_EQ(s->expect.trace.size(), 3u);
  EXPECT_TRUE(s->expect.trace[0].count_debugcon_bytes);
  EXPECT_FALSE(s->expect.trace[0].count.has_value());
  EXPECT_EQ(s->expect.trace[0].line, 4);
  EXPECT_EQ(s->expect.trace[1].count, 0);
  EXPECT_FALSE(s->expect.trace[2].count.has_value());
  EXPECT_FALSE(s->expect.trace[2].count_debugcon_bytes);
}

TEST_F(ScenarioTrace, ExpectationsWithoutEventsAreRejected) {
  auto s = load(R"({"expect": {"trace": [{"regex": "x"}]}})");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ExitCode::bad_input);
  EXPECT_NE(s.error().message.find("key 'trace': expectations on the trace need events"),
            std::string::npos)
      << s.error().message;
}

TEST_F(ScenarioTrace, BadValuesNameTheKey) {
  struct Case {
    const char* text;
    const char* fragment;
  } cases[] = {
      {R"({"trace": ["a,b"]})", "'a,b' is not a QEMU trace event name"},
      {R"({"trace": "memory_region_ops_write"})", "key 'trace': expected an array of strings"},
      {R"({"trace": ["x"], "expect": {"trace": [{"count": 1}]}})", "key 'regex': missing"},
      {R"({"trace": ["x"], "expect": {"trace": [{"regex": "(", "count": 1}]}})", "bad regex"},
      {R"({"trace": ["x"], "expect": {"trace": [{"regex": "a", "count": -1}]}})",
       "key 'count': expected a number of lines"},
      {R"({"trace": ["x"], "expect": {"trace": [{"regex": "a", "count": "bytes"}]}})",
       "key 'count': expected a number of lines"},
      {R"({"trace": ["x"], "expect": {"trace": [{"regex": "a", "cont": 1}]}})",
       "key 'cont': unknown key"},
      {R"({"trace": ["x"], "expect": {"trace": ["a"]}})", "entry 1: expected an object"},
  };
  for (const auto& c : cases) {
    auto s = load(c.text);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.error().code, ExitCode::bad_input) << c.text;
    EXPECT_NE(s.error().message.find(c.fragment), std::string::npos) << c.text << "\n"
                                                                     << s.error().message;
  }
}

} // namespace
} // namespace labctl
