#include "guest/kernel_log.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

// A console line as the kernel prints it: "[    1.000005] text".
std::string console(uint64_t usec, const std::string& text) {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "[%5llu.%06llu] ",
                static_cast<unsigned long long>(usec / 1000000),
                static_cast<unsigned long long>(usec % 1000000));
  return stamp + text;
}

std::string kmsg(uint64_t seq, uint64_t usec, const std::string& text) {
  return "6," + std::to_string(seq) + "," + std::to_string(usec) + ",-;" + text;
}

TEST(KernelLog, KmsgWithoutGapsIsTheLogAndTheConsoleAddsNothing) {
  KernelLog log;
  for (uint64_t i = 0; i < 3; ++i) {
    log.add_console(console(1000000 + i, "line " + std::to_string(i)));
    log.add_kmsg(kmsg(i, 1000000 + i, "line " + std::to_string(i)));
  }
  log.add_console("labctl init: not a kernel line");
  auto text = log.complete();
  EXPECT_EQ(text.text, "line 0\nline 1\nline 2\n");
  EXPECT_EQ(text.from_console, 0u);
  EXPECT_EQ(text.lost, 0u);
}

TEST(KernelLog, AGapInTheSequenceNumbersIsFilledFromTheConsoleInOrder) {
  KernelLog log;
  for (uint64_t i = 0; i < 6; ++i)
    log.add_console(console(2000000 + 10 * i, "flood " + std::to_string(i)));
  // The reader lost records 2..4 (the ring overwrote them), then started again.
  for (uint64_t i : {0, 1, 5})
    log.add_kmsg(kmsg(i, 2000000 + 10 * i, "flood " + std::to_string(i)));
  auto text = log.complete();
  EXPECT_EQ(text.text, "flood 0\nflood 1\nflood 2\nflood 3\nflood 4\nflood 5\n");
  EXPECT_EQ(text.from_console, 3u);
  EXPECT_EQ(text.lost, 0u);
  ASSERT_EQ(text.gaps.size(), 1u);
  EXPECT_EQ(text.gaps[0].first_seq, 2u);
  EXPECT_EQ(text.gaps[0].missing, 3u);
  EXPECT_EQ(text.gaps[0].filled, 3u);
}

TEST(KernelLog, RecordsMissingFromBothAreCounted) {
  KernelLog log;
  log.add_console(console(10, "a"));
  log.add_console(console(20, "b"));
  log.add_console("** 2 printk messages dropped **");
  log.add_console(console(50, "e"));
  for (auto [seq, usec, text] : {std::tuple{0, 10, "a"}, std::tuple{4, 50, "e"}})
    log.add_kmsg(kmsg(seq, usec, text));
  auto text = log.complete();
  EXPECT_EQ(text.text, "a\nb\ne\n");
  EXPECT_EQ(text.from_console, 1u);
  EXPECT_EQ(text.lost, 2u);
}

TEST(KernelLog, RecordsBeforeTheFirstAndAfterTheLastComeFromTheConsole) {
  KernelLog log;
  log.add_console(console(1, "boot 0"));
  log.add_console(console(2, "boot 1"));
  log.add_console(console(3, "boot 2"));
  log.add_console(console(9, "Kernel panic - not syncing: the end"));
  log.add_kmsg(kmsg(2, 3, "boot 2"));
  auto text = log.complete();
  EXPECT_EQ(text.text, "boot 0\nboot 1\nboot 2\nKernel panic - not syncing: the end\n");
  EXPECT_EQ(text.from_console, 3u);
  EXPECT_EQ(text.lost, 0u);
}

TEST(KernelLog, WithoutKmsgTheConsoleIsTheLog) {
  KernelLog log;
  log.add_console(console(5, "only the console"));
  EXPECT_EQ(log.complete().text, "only the console\n");
}

TEST(KernelLog, DictionaryLinesStayWithTheirRecordAndEscapesMatchTheConsole) {
  KernelLog log;
  log.add_console(console(7, "path C:\\dir"));
  log.add_console(console(8, "dev ready"));
  log.add_console(console(9, "filled"));
  log.add_console(console(12, "last"));
  log.add_kmsg(kmsg(0, 7, "path C:\\x5cdir"));
  log.add_kmsg(kmsg(1, 8, "dev ready"));
  log.add_kmsg(" SUBSYSTEM=virtio");
  log.add_kmsg(kmsg(3, 12, "last"));
  auto text = log.complete();
  // kmsg's own spelling is kept; the console line of a record kmsg has is not repeated.
  EXPECT_EQ(text.text, "path C:\\x5cdir\ndev ready\n SUBSYSTEM=virtio\nfilled\nlast\n");
  EXPECT_EQ(text.from_console, 1u);
  EXPECT_EQ(text.lost, 0u);
}

TEST(KernelLog, MalformedLinesNeverThrow) {
  KernelLog log;
  for (const char* line : {"", "[", "[ 1.5] short fraction", "[abc.123456] x", "[ 1.123456]x",
                           "[99999999999999999999.000000] overflow"})
    log.add_console(line);
  for (const char* record : {"", ";", "6,;x", "6,x,y,-;z", "6,1,2"})
    log.add_kmsg(record);
  auto text = log.complete();
  EXPECT_EQ(text.lost, 0u);
  EXPECT_EQ(text.from_console, 0u);
}

} // namespace
} // namespace labctl
