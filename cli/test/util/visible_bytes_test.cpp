#include "util/visible_bytes.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

TEST(VisibleBytes, EscapeBytes) {
  EXPECT_EQ(escape_bytes("plain text"), "plain text");
  EXPECT_EQ(escape_bytes(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(escape_bytes("tab\there\r\n"), "tab\\there\\r\\n");
  EXPECT_EQ(escape_bytes("\x1b[31m\x7f"), "\\x1b[31m\\x7f");
  EXPECT_EQ(escape_bytes("back\\slash"), "back\\\\slash");
  EXPECT_EQ(escape_bytes("caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");
  EXPECT_EQ(escape_bytes("\xff\xc3"), "\\xff\\xc3");          // invalid, truncated
  EXPECT_EQ(escape_bytes("\xc0\xaf"), "\\xc0\\xaf");          // overlong
  EXPECT_EQ(escape_bytes("\xed\xa0\x80"), "\\xed\\xa0\\x80"); // surrogate
  EXPECT_EQ(escape_bytes("\xef\xbf\xbf"), "\\xef\\xbf\\xbf"); // U+FFFF
  EXPECT_EQ(escape_bytes("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
}

TEST(VisibleBytes, EscapingNeverConfusesTwoInputs) {
  EXPECT_NE(escape_bytes("\\x00"), escape_bytes(std::string("\0", 1)));
  EXPECT_NE(escape_bytes("\\n"), escape_bytes("\n"));
}

TEST(VisibleBytes, PrintableTextKeepsLayout) {
  EXPECT_EQ(printable_text("a\tb\nc\\d\r\n"), "a\tb\nc\\d\r\n");
  EXPECT_EQ(printable_text("progress\r50%"), "progress\\r50%");
  EXPECT_EQ(printable_text(std::string("\x1b[0m\0\xff", 6)), "\\x1b[0m\\x00\\xff");
}

TEST(VisibleBytes, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("ascii\n\x01"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xe2\x9c"));
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80")); // above U+10FFFF
}

} // namespace
} // namespace labctl
