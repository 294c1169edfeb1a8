#include "test_support.h"
#include "util/fs.h"
#include "util/result.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace labctl {
namespace {

using test::ScratchDir;

util::Result<int> failed() {
  return util::Failure{"no such thing", ENOENT};
}

TEST(ResultDeathTest, ReadingTheValueOfAnErrorAbortsNamingTheError) {
  auto r = failed();
  ASSERT_FALSE(r.ok());
  EXPECT_DEATH((void)r.value(), "value\\(\\) of an error Result: no such thing");
  EXPECT_DEATH((void)*r, "no such thing");
}

TEST(ResultDeathTest, ErrorOfAValueAborts) {
  util::Result<int> r = 3;
  EXPECT_DEATH((void)r.error(), "error\\(\\) of a Result that holds a value");
}

TEST(Result, TakeThrowsTheFailureItHolds) {
  try {
    (void)failed().take();
    FAIL() << "take() of an error returned";
  } catch (const util::FailureError& e) {
    EXPECT_EQ(e.failure().message, "no such thing");
    EXPECT_EQ(e.failure().error_number, ENOENT);
  }
  EXPECT_EQ(util::Result<int>(7).take(), 7);
}

TEST(ReadFile, AFailureCarriesTheErrno) {
  ScratchDir dir;
  auto missing = read_file(dir.path() / "missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().error_number, ENOENT);
  EXPECT_NE(missing.error().message.find("No such file"), std::string::npos);
  auto folder = read_file(dir.path());
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.error().error_number, EISDIR);
}

} // namespace
} // namespace labctl
