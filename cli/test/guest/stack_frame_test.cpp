#include "guest/stack_frame.h"

#include "guest/fault_scanner.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace labctl {
namespace {

// The first fault report of a recorded console (tests/data/console/).
std::string recorded_report(const std::string& name) {
  auto text = read_file(test::test_data("console/" + name));
  EXPECT_TRUE(text.ok()) << name;
  FaultScanner scanner;
  size_t pos = 0;
  while (text.ok() && pos < text->size()) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos)
      nl = text->size();
    scanner.feed_line(std::string_view(*text).substr(pos, nl - pos));
    pos = nl + 1;
  }
  scanner.flush();
  auto faults = scanner.take_faults();
  EXPECT_FALSE(faults.empty()) << name;
  return faults.empty() ? "" : faults.front().report;
}

TEST(StackFrames, RecordedOopsGivesTheRipFrameExactThenTheTraceAsReturnAddresses) {
  auto frames = stack_frames(recorded_report("oops.log"));
  ASSERT_GE(frames.size(), 4u);
  EXPECT_EQ(frames[0].text, "labctl_fault_write.cold+0x40/0x14a [labctl_fault]");
  EXPECT_EQ(frames[0].function, "labctl_fault_write.cold");
  EXPECT_EQ(frames[0].offset, 0x40u);
  EXPECT_EQ(frames[0].size, 0x14au);
  EXPECT_EQ(frames[0].module, "labctl_fault");
  EXPECT_TRUE(frames[0].exact);
  EXPECT_TRUE(frames[0].reliable);
  EXPECT_EQ(frames[1].text, "vfs_write+0xc7/0x3f0");
  EXPECT_EQ(frames[1].module, "");
  EXPECT_FALSE(frames[1].exact);
  EXPECT_TRUE(frames[1].reliable);
  EXPECT_EQ(frames[2].text, "__rseq_handle_notify_resume+0xa9/0x480");
  EXPECT_FALSE(frames[2].reliable) << "a '? ' frame is a stale address";
  // The user-space RIP (0033:0x47b7a0) is no frame.
  for (const auto& f : frames)
    EXPECT_NE(f.function, "0x47b7a0");
}

TEST(StackFrames, WarningHeaderFrameIsExactAndTheRepeatedRipFrameCountsOnce) {
  auto frames = stack_frames(recorded_report("warning.log"));
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].text, "labctl_fault_write.cold+0x6f/0x14a [labctl_fault]");
  EXPECT_TRUE(frames[0].exact);
  size_t copies = 0;
  for (const auto& f : frames)
    copies += f.text == frames[0].text;
  EXPECT_EQ(copies, 1u);
}

TEST(StackFrames, ModuleWithBuildIdAndSlubAllocatedInLine) {
  auto frames = stack_frames(" hidden_write+0x15/0x30 [hidden_oops 0123abcd]\r\n"
                             "INFO: Allocated in leak_alloc+0x1a/0x40 [leaky] age=3 cpu=0\n");
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].text, "hidden_write+0x15/0x30 [hidden_oops]");
  EXPECT_EQ(frames[0].module, "hidden_oops");
  EXPECT_EQ(frames[1].text, "leak_alloc+0x1a/0x40 [leaky]");
}

TEST(StackFrames, GarbageGivesNoFrameAndNeverThrows) {
  for (const char* line : {"", "\n\n", "+0x1/0x2", "f+0x/0x2", "f+0x1/0x", "a-f+0x1/0x2",
                           "f+0xfffffffffffffffffffff/0x1", "RIP: 0033:0x47b7a0",
                           "Tainted: G           OE", "\xff\xfe+0x1/0x2"})
    EXPECT_TRUE(stack_frames(line).empty()) << line;
  // A module name that is not one stays out of the frame.
  for (const char* line : {"f+0x1/0x2 [", "f+0x1/0x2 []", "f+0x1/0x2 [a b c]"}) {
    auto frames = stack_frames(line);
    ASSERT_EQ(frames.size(), 1u) << line;
    EXPECT_EQ(frames[0].text, "f+0x1/0x2");
    EXPECT_EQ(frames[0].module, "");
  }
  // A frame whose numbers fill 64 bits is still a frame.
  auto big = stack_frames("f+0xffffffffffffffff/0xffffffffffffffff");
  ASSERT_EQ(big.size(), 1u);
  EXPECT_EQ(big[0].offset, UINT64_MAX);
  // Random bytes with frame-like pieces: whatever comes out parses back to itself.
  std::mt19937 rng(14);
  const std::string pieces[] = {"f",  "+0x", "1f", "/0x", "40", " [", "m",     "]",
                                "? ", "\n",  ":",  " ",   "\r", "\0", "RIP: ", "\xc3"};
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    for (int i = 0; i < 20; ++i)
      text += pieces[rng() % std::size(pieces)];
    for (const auto& f : stack_frames(text)) {
      auto again = stack_frames(f.text);
      ASSERT_EQ(again.size(), 1u) << f.text;
      EXPECT_EQ(again[0].text, f.text);
    }
  }
}

} // namespace
} // namespace labctl
