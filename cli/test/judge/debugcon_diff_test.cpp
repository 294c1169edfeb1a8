#include "judge/debugcon_diff.h"

#include <gtest/gtest.h>

#include <chrono>

namespace labctl {
namespace {

DebugconComparison compare(std::string_view expected, std::string_view actual) {
  return compare_debugcon(expected, actual, "expected", "actual");
}

size_t count_lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(DiffDebugcon, EqualBytes) {
  auto c = compare("hello from Linux\n", "hello from Linux\n");
  EXPECT_TRUE(c.equal);
  EXPECT_EQ(c.first_difference, std::string::npos);
  EXPECT_EQ(c.diff, "");
  EXPECT_TRUE(compare("", "").equal);
}

// The same output GNU `diff -u --label expected --label actual` gives.
TEST(DiffDebugcon, UnifiedDiffWithTwoHunks) {
  auto c = compare("l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl12\nl13\nl14\n",
                   "l1\nL2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl13\nl14\nl15\n");
  EXPECT_FALSE(c.equal);
  EXPECT_EQ(c.first_difference, 3u);
  EXPECT_EQ(c.diff, "--- expected\n"
                    "+++ actual\n"
                    "@@ -1,5 +1,5 @@\n"
                    " l1\n"
                    "-l2\n"
                    "+L2\n"
                    " l3\n"
                    " l4\n"
                    " l5\n"
                    "@@ -9,6 +9,6 @@\n"
                    " l9\n"
                    " l10\n"
                    " l11\n"
                    "-l12\n"
                    " l13\n"
                    " l14\n"
                    "+l15\n");
}

TEST(DiffDebugcon, ChangesCloseTogetherShareAHunk) {
  // Six unchanged lines between two changes: still one hunk, as in GNU diff.
  auto c = compare("a\nb\nc\nd\ne\nf\ng\nh\n", "A\nb\nc\nd\ne\nf\ng\nH\n");
  EXPECT_EQ(c.diff, "--- expected\n+++ actual\n@@ -1,8 +1,8 @@\n-a\n+A\n b\n c\n d\n e\n f\n g\n"
                    "-h\n+H\n");
}

TEST(DiffDebugcon, LabelsAreUsedInTheHeader) {
  auto c = compare_debugcon("a\n", "b\n", "scenarios/debugcon.expected", "artifacts/debugcon.txt");
  EXPECT_EQ(c.diff, "--- scenarios/debugcon.expected\n+++ artifacts/debugcon.txt\n@@ -1 +1 @@\n"
                    "-a\n+b\n");
}

TEST(DiffDebugcon, MissingFinalNewlineIsFlagged) {
  auto c = compare("hello from Linux\n", "hello from Linux");
  EXPECT_FALSE(c.equal);
  EXPECT_EQ(c.first_difference, 16u);
  EXPECT_EQ(c.diff, "--- expected\n+++ actual\n@@ -1 +1 @@\n-hello from Linux\n+hello from Linux\n"
                    "\\ No newline at end of file\n");
}

TEST(DiffDebugcon, EmptySides) {
  auto nothing = compare("hello\n", "");
  EXPECT_EQ(nothing.first_difference, 0u);
  EXPECT_EQ(nothing.diff, "--- expected\n+++ actual\n@@ -1 +0,0 @@\n-hello\n");
  auto unexpected = compare("", "x\ny\n");
  EXPECT_EQ(unexpected.first_difference, 0u);
  EXPECT_EQ(unexpected.diff, "--- expected\n+++ actual\n@@ -0,0 +1,2 @@\n+x\n+y\n");
}

TEST(DiffDebugcon, NonPrintableBytesAreShown) {
  auto c =
      compare(std::string("a\tb\r\nc\0d\nsame\n", 14), std::string("a b\nc\0e\xff\nsame\n", 14));
  EXPECT_EQ(c.first_difference, 1u);
  EXPECT_EQ(c.diff, "--- expected\n+++ actual\n@@ -1,3 +1,3 @@\n"
                    "-a\\tb\\r\n"
                    "-c\\x00d\n"
                    "+a b\n"
                    "+c\\x00e\\xff\n"
                    " same\n");
}

TEST(DiffDebugcon, FirstDifferenceOffset) {
  EXPECT_EQ(compare("abc", "abd").first_difference, 2u);
  EXPECT_EQ(compare("abc", "abcd").first_difference, 3u);
  EXPECT_EQ(compare("abcd", "abc").first_difference, 3u);
  EXPECT_EQ(compare("", "x").first_difference, 0u);
  EXPECT_EQ(compare("line1\nline2\n", "line1\nline3\n").first_difference, 10u);
}

TEST(DiffDebugcon, LongLinesAreCut) {
  std::string expected(100000, 'a');
  std::string actual = expected + "b";
  auto c = compare(expected, actual);
  EXPECT_EQ(c.first_difference, 100000u);
  EXPECT_LT(c.diff.size(), 2000u);
  EXPECT_NE(c.diff.find("[... 99488 more bytes]"), std::string::npos);
}

// Size, not speed: timing belongs in bench/, and a sanitizer build on a loaded machine is
// slow. An algorithm quadratic in the input would not finish within the test timeout.
TEST(DiffDebugcon, TenMegabytesWithOneChangeShowOnlyThatChange) {
  std::string expected;
  for (int i = 0; expected.size() < (10u << 20); ++i)
    expected += "debugcon line " + std::to_string(i) + "\n";
  std::string actual = expected;
  size_t middle = actual.find("debugcon line 300000\n");
  ASSERT_NE(middle, std::string::npos);
  actual.replace(middle, 20, "debugcon line 3OOOOO");

  auto c = compare(expected, actual);
  EXPECT_EQ(c.first_difference, middle + 15);
  EXPECT_EQ(c.diff, "--- expected\n+++ actual\n@@ -299998,7 +299998,7 @@\n"
                    " debugcon line 299997\n"
                    " debugcon line 299998\n"
                    " debugcon line 299999\n"
                    "-debugcon line 300000\n"
                    "+debugcon line 3OOOOO\n"
                    " debugcon line 300001\n"
                    " debugcon line 300002\n"
                    " debugcon line 300003\n");
}

TEST(DiffDebugcon, TenMegabytesAllDifferentAreCapped) {
  std::string expected, actual;
  for (int i = 0; expected.size() < (10u << 20); ++i) {
    expected += "expected " + std::to_string(i) + "\n";
    actual += "actual " + std::to_string(i * 7) + "\n";
  }
  auto c = compare(expected, actual);
  EXPECT_FALSE(c.equal);
  EXPECT_EQ(c.first_difference, 0u);
  EXPECT_LE(count_lines(c.diff), k_diff_max_output_lines + 5);
  EXPECT_NE(c.diff.find("... diff cut after 400 lines\n"), std::string::npos) << c.diff;
  EXPECT_NE(c.diff.find("... only the first 4000 differing lines of each side were compared"),
            std::string::npos);
}

TEST(DiffDebugcon, ManySmallChangesStopAtTheOutputLimit) {
  std::string expected, actual;
  for (int i = 0; i < 3000; ++i) {
    expected += "line " + std::to_string(i) + "\n";
    actual += "line " + std::to_string(i) + (i % 10 == 0 ? "!" : "") + "\n";
  }
  auto c = compare(expected, actual);
  EXPECT_LE(count_lines(c.diff), k_diff_max_output_lines + 5);
  EXPECT_NE(c.diff.find("... diff cut after 400 lines\n"), std::string::npos);
  EXPECT_EQ(c.diff.find("only the first"), std::string::npos);
}

} // namespace
} // namespace labctl
