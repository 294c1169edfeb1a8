#include "util/errno_name.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace labctl {
namespace {

TEST(ErrnoName, GlibcsAndTheKernelsOwn) {
  ASSERT_TRUE(errno_name(ENOENT));
  EXPECT_EQ(errno_name(ENOENT)->name, "ENOENT");
  EXPECT_EQ(errno_name(ENOENT)->meaning, "No such file or directory");
  ASSERT_TRUE(errno_name(517));
  EXPECT_EQ(errno_name(517)->name, "EPROBE_DEFER");
  EXPECT_EQ(errno_name(517)->meaning.rfind("probe deferred", 0), 0u);
  EXPECT_EQ(errno_name(512)->name, "ERESTARTSYS");
  EXPECT_EQ(errno_name(524)->name, "ENOTSUPP");
  EXPECT_FALSE(errno_name(0));
  EXPECT_FALSE(errno_name(-2));
  EXPECT_FALSE(errno_name(520)); // a hole in the kernel's table
  EXPECT_FALSE(errno_name(4000));
}

TEST(ErrnoName, TextShowsEachErrnoWithItsName) {
  EXPECT_EQ(name_errnos("insmod: can't insert 'x.ko': Unknown error 517"),
            "insmod: can't insert 'x.ko': Unknown error 517 (EPROBE_DEFER: probe deferred: "
            "something the driver needs is not ready yet, the probe is retried later)");
  EXPECT_EQ(name_errnos("x: Unknown symbol y (err -2)"),
            "x: Unknown symbol y (err -2 (ENOENT: No such file or directory))");
  EXPECT_EQ(name_errnos("probe failed with error -22, ret=-12"),
            "probe failed with error -22 (EINVAL: Invalid argument), ret=-12 (ENOMEM: Cannot "
            "allocate memory)");
  // No errno here: a number after another word, an unknown value, a part of a word.
  for (const char* text : {"line -5 of 10", "error -9999", "myerror -2", "error -", "error"})
    EXPECT_EQ(name_errnos(text), text);
}

} // namespace
} // namespace labctl
