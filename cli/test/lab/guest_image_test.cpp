#include "lab/guest_image.h"

#include "lab/data_dir.h"
#include "test_support.h"

#include <gtest/gtest.h>

namespace labctl {
namespace {

GuestImageSpec small_spec(const test::ScratchDir& dir) {
  GuestImageSpec spec;
  spec.busybox = dir.write("busybox", "not really busybox");
  spec.applets = {"bin/sh"};
  spec.initrd_dir = initrd_dir();
  spec.files = {{"/etc/motd", dir.write("motd", "hello\n")}};
  return spec;
}

TEST(GuestImage, SecondPackIsTheCachedFile) {
  test::ScratchDir dir;
  auto first = build_guest_image(small_spec(dir), dir.path() / "cache");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(first->cached);
  auto second = build_guest_image(small_spec(dir), dir.path() / "cache");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE(second->cached);
  EXPECT_EQ(second->path, first->path);
  EXPECT_TRUE(fs::exists(first->path.string() + ".sum"));
}

TEST(GuestImage, TruncatedOrAlteredCacheEntryIsPackedAgain) {
  test::ScratchDir dir;
  auto first = build_guest_image(small_spec(dir), dir.path() / "cache");
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto bytes = read_file(first->path);
  ASSERT_TRUE(bytes.ok());

  fs::resize_file(first->path, bytes->size() / 2);
  auto truncated = build_guest_image(small_spec(dir), dir.path() / "cache");
  ASSERT_TRUE(truncated.ok()) << truncated.error().message;
  EXPECT_FALSE(truncated->cached);
  EXPECT_EQ(*read_file(first->path), *bytes);

  std::string altered = *bytes;
  altered[altered.size() / 2] ^= 1;
  ASSERT_TRUE(write_file_atomic(first->path, altered).ok());
  auto again = build_guest_image(small_spec(dir), dir.path() / "cache");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(again->cached);
  EXPECT_EQ(*read_file(first->path), *bytes);

  fs::remove(first->path.string() + ".sum"); // e.g. written by an older labctl
  auto without_sum = build_guest_image(small_spec(dir), dir.path() / "cache");
  ASSERT_TRUE(without_sum.ok()) << without_sum.error().message;
  EXPECT_FALSE(without_sum->cached);
}

} // namespace
} // namespace labctl
