#include "run/console_escape.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

using Command = ConsoleEscape::Command;

TEST(ConsoleEscape, PlainBytesAndCtrlCPassThrough) {
  ConsoleEscape e;
  auto out = e.feed("ls\r\x03\x04");
  EXPECT_EQ(out.to_guest, "ls\r\x03\x04");
  EXPECT_EQ(out.command, Command::none);
}

TEST(ConsoleEscape, CtrlAXLeavesAndDropsWhatFollows) {
  ConsoleEscape e;
  auto out = e.feed("ab\x01xcd");
  EXPECT_EQ(out.to_guest, "ab");
  EXPECT_EQ(out.command, Command::leave);
}

TEST(ConsoleEscape, EscapeSplitAcrossReads) {
  ConsoleEscape e;
  auto first = e.feed("a\x01");
  EXPECT_EQ(first.to_guest, "a");
  EXPECT_EQ(first.command, Command::none);
  auto second = e.feed("x");
  EXPECT_EQ(second.to_guest, "");
  EXPECT_EQ(second.command, Command::leave);
}

TEST(ConsoleEscape, DoubleCtrlASendsOneAndOtherKeysSendBoth) {
  ConsoleEscape e;
  EXPECT_EQ(e.feed("\x01\x01").to_guest, "\x01");
  EXPECT_EQ(e.feed("\x01"
                   "c")
                .to_guest,
            "\x01"
            "c");
  EXPECT_EQ(e.feed("\x01\x01\x01"
                   "x")
                .command,
            Command::leave);
}

TEST(ConsoleEscape, CtrlAHAsksForHelpAndKeepsGoing) {
  ConsoleEscape e;
  auto out = e.feed("\x01hls");
  EXPECT_EQ(out.command, Command::help);
  EXPECT_EQ(out.to_guest, "ls");
}

} // namespace
} // namespace labctl
