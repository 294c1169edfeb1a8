// The rows of the fault matrix (docs/faults.md) that need the real kernel: faults a
// scenario expects, found in a real guest and attributed to their steps.
#include "e2e_support.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

namespace labctl::e2e {
namespace {

class VmFaults : public ::testing::Test {
protected:
  TempDir artifacts{"labctl-e2e-vmfaults"};
  void TearDown() override {
    EXPECT_EQ(qemu_processes_using(artifacts.path().string()), 0)
        << "a QEMU process outlived the run";
  }
};

TEST_F(VmFaults, ExpectedWarningAndBugAreFoundAndTheRunPasses) {
  auto r = labctl(
      {"run", "--artifacts", artifacts.path().string(), "tests/scenarios/faults-expected.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto result = read_file(artifacts.path() / "faults-expected" / "result.json");
  ASSERT_TRUE(result.ok());
  auto json = Json::parse(*result);
  const auto& faults = json["scenarios"][0]["faults"];
  ASSERT_EQ(faults.size(), 2u) << faults.dump(2);
  EXPECT_EQ(faults[0]["kind"], "warning");
  EXPECT_NE(faults[0]["step"].get<std::string>().find("step 1 "), std::string::npos);
  EXPECT_EQ(faults[1]["kind"], "bug");
  EXPECT_NE(faults[1]["title"].get<std::string>().find("kernel BUG at"), std::string::npos);
  EXPECT_NE(faults[1]["step"].get<std::string>().find("step 2 "), std::string::npos);
  EXPECT_TRUE(fs::exists(artifacts.path() / "faults-expected" / "faults.txt"));
}

} // namespace
} // namespace labctl::e2e
