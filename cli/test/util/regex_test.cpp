#include "util/regex.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

TEST(Regex, SearchesWithoutAnchoring) {
  auto re = Regex::compile("busy");
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(re->pattern(), "busy");
  auto m = re->search("sh: Device or resource busy\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->offset, 23u);
  EXPECT_EQ(m->length, 4u);
  EXPECT_FALSE(re->matches("idle"));
}

TEST(Regex, AnchorsMatchAtEveryLine) {
  auto re = Regex::compile("^b$");
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(re->matches("a\nb\nc"));
  EXPECT_TRUE(re->matches("a\nb\n"));
  EXPECT_FALSE(re->matches("a\nbb\n"));
  // A dot does not cross lines.
  EXPECT_FALSE(Regex::compile("a.b")->matches("a\nb"));
}

TEST(Regex, BadPatternSaysWhy) {
  auto re = Regex::compile("busy(");
  ASSERT_FALSE(re.ok());
  EXPECT_EQ(re.error().error_number, 0); // no errno: the caller decides (a scenario: bad input)
  EXPECT_EQ(re.error().message, "missing ): busy(");
  EXPECT_FALSE(Regex::compile("(a)\\1").ok()); // no backreferences: RE2 stays linear
}

TEST(Regex, BinaryTextAndEmptyText) {
  auto re = Regex::compile("x\\x00y");
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(re->matches(std::string("\xff\xfe x\0y", 7)));
  EXPECT_FALSE(re->matches(""));
  auto any = Regex::compile("^");
  ASSERT_TRUE(any.ok());
  auto m = any->search("");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->offset, 0u);
}

TEST(Regex, NoStackOverflowOnHugeText) {
  std::string text(4u << 20, 'a');
  auto re = Regex::compile("(a|aa)*b");
  ASSERT_TRUE(re.ok());
  EXPECT_FALSE(re->matches(text));
  EXPECT_TRUE(Regex::compile("(a|aa)*$")->matches(text));
}

} // namespace
} // namespace labctl
