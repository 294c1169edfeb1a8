#include "util/shell_quote.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

TEST(ShellQuote, SafeWordsStayBare) {
  EXPECT_EQ(shell_quote("-kernel"), "-kernel");
}

TEST(ShellQuote, SpacesAndQuotesAreQuoted) {
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_join({"echo", "a b", "$HOME"}), "echo 'a b' '$HOME'");
}

} // namespace
} // namespace labctl
