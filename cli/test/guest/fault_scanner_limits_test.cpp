// The fault scanner's memory bounds: a flood inside a report cannot grow it without end.
#include "guest/fault_scanner.h"

#include <gtest/gtest.h>

#include <string>

namespace labctl {
namespace {

TEST(FaultScannerLimits, ReportStopsAtItsByteCap) {
  FaultScanner scanner;
  scanner.feed_line("[    1.000000] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x10");
  std::string line = "[    1.000001] " + std::string(60000, 'y');
  for (int i = 0; i < 100; ++i)
    scanner.feed_line(line);
  auto faults = scanner.take_faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "warning");
  EXPECT_GE(faults[0].report.size(), FaultScanner::k_max_report_bytes);
  EXPECT_LE(faults[0].report.size(), FaultScanner::k_max_report_bytes + line.size() + 1);
}

TEST(FaultScannerLimits, CutHereLinesBeyondTheCapDoNotCrash) {
  // A report closed by its cap while its "cut here" lines are being added.
  FaultScanner scanner;
  scanner.feed_line("------------[ cut here ]------------");
  for (int i = 0; i < 5; ++i)
    scanner.feed_line(std::string(60000, 'z'));
  scanner.feed_line("WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x10");
  scanner.flush();
  auto faults = scanner.take_faults();
  ASSERT_FALSE(faults.empty());
  EXPECT_EQ(faults[0].kind, "warning");
}

} // namespace
} // namespace labctl
