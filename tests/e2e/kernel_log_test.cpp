// The kernel log that expect.kernel_log is matched against loses nothing (issue 14): a
// printk flood overruns /dev/kmsg's reader in the real guest; the console fills the gaps.
#include "e2e_support.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace labctl::e2e {
namespace {

TEST(KernelLogVm, ThirtyThousandLinesAtInitAreAllInTheKernelLog) {
  TempDir artifacts{"labctl-e2e-kernel-log"};
  auto r = labctl(
      {"run", "--artifacts", artifacts.path().string(), "tests/scenarios/printk-flood.json"});
  // The first and last lines are matched by expect.kernel_log: the run passes.
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS  printk-flood"), std::string::npos) << r.out;
  fs::path folder = artifacts.path() / "printk-flood";
  EXPECT_EQ(report_schema_problems(folder / "result.json"), "");
  auto log = read_file(folder / "kernel.log");
  ASSERT_TRUE(log.ok()) << log.error().message;
  // Every line, once, in order.
  std::istringstream in(*log);
  std::string line;
  unsigned next = 1;
  size_t out_of_order = 0;
  while (std::getline(in, line)) {
    if (line.rfind("printk_flood: line ", 0) != 0)
      continue;
    if (line == fmt::format("printk_flood: line {} of 30000", next))
      ++next;
    else
      ++out_of_order;
  }
  EXPECT_EQ(next, 30001u) << "kernel.log lacks \"printk_flood: line " << next << " of 30000\"";
  EXPECT_EQ(out_of_order, 0u);
  auto result = read_file(folder / "result.json");
  ASSERT_TRUE(result.ok());
  // Records of a gap the console never printed (KERN_DEBUG ones, at loglevel=7) are really
  // lost and counted; the flood's lines, all printed, are not among them.
  EXPECT_TRUE(Json::parse(*result)["scenarios"][0]["kernel_log_lost"].is_number_unsigned())
      << *result;
  EXPECT_EQ(qemu_processes_using(artifacts.path().string()), 0)
      << "a QEMU process outlived the run";
}

} // namespace
} // namespace labctl::e2e
