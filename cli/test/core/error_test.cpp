#include "core/error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace labctl {
namespace {

util::Result<std::string> util_failure(int err) {
  return util::Failure{"cannot do it", err};
}

// Where no labctl layer decided otherwise, a util failure is the environment's.
Result<std::string> passed_up(int err) {
  auto r = util_failure(err);
  if (!r)
    return r.error();
  return r;
}

TEST(Error, AUtilFailurePassedUpIsAnEnvironmentError) {
  auto r = passed_up(EACCES);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ExitCode::environment);
  EXPECT_EQ(r.error().message, "cannot do it");
  Result<std::string> converted = util_failure(0);
  EXPECT_EQ(converted.error().code, ExitCode::environment);
  Result<std::string> value = util::Result<std::string>("v");
  EXPECT_EQ(*value, "v");
}

TEST(Error, AUtilFailureStoppedByAnInterruptIsInterrupted) {
  EXPECT_EQ(passed_up(EINTR).error().code, ExitCode::interrupted);
}

TEST(Error, TheCallerCanMakeAUtilFailureBadInput) {
  auto r = util_failure(ENOENT);
  ASSERT_FALSE(r.ok());
  Error e = bad_input(r.error());
  EXPECT_EQ(e.code, ExitCode::bad_input);
  EXPECT_EQ(e.message, "cannot do it");
  EXPECT_EQ(environment_error(r.error()).code, ExitCode::environment);
}

TEST(Error, TakeThrowsFatalErrorWithTheCode) {
  Result<int> r = bad_input("wrong");
  try {
    (void)std::move(r).take();
    FAIL() << "take() of an error returned";
  } catch (const FatalError& e) {
    EXPECT_EQ(e.error().code, ExitCode::bad_input);
    EXPECT_EQ(e.error().message, "wrong");
  }
}

} // namespace
} // namespace labctl
