#include "image/guest_image.h"

#include "config/data_dir.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

namespace labctl {
namespace {

// Bytes this process has read through read(2) and friends so far (rchar of /proc/self/io).
unsigned long long bytes_read_by_this_process() {
  std::ifstream io("/proc/self/io");
  std::string key;
  unsigned long long value = 0;
  while (io >> key >> value)
    if (key == "rchar:")
      return value;
  ADD_FAILURE() << "no rchar in /proc/self/io";
  return 0;
}

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

TEST(GuestImage, InitrdLargerThanTheGuestCanUnpackIsRefusedBeforeReadingIt) {
  test::ScratchDir dir;
  GuestImageSpec spec = small_spec(dir);
  // Sparse: 600 MiB apparent size, nothing written. Whether it was read is what this
  // process read (/proc/self/io rchar), not how long it took.
  fs::path big = dir.write("big", "");
  fs::resize_file(big, 600ull << 20);
  spec.files["/big"] = big;
  spec.memory = "256M";
  auto read_before = bytes_read_by_this_process();
  auto image = build_guest_image(spec, dir.path() / "cache");
  auto read_during = bytes_read_by_this_process() - read_before;
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.error().code, ExitCode::bad_input);
  EXPECT_NE(image.error().message.find("the initrd would unpack to 601 MiB (the largest part: "
                                       "files entry '/big', 600 MiB)"),
            std::string::npos)
      << image.error().message;
  EXPECT_NE(image.error().message.find("the profile's memory \"256M\" can hold: 96 MiB"),
            std::string::npos)
      << image.error().message;
  EXPECT_LT(read_during, 64ull << 20) << "it was read";
  EXPECT_FALSE(fs::exists(dir.path() / "cache" / "initrd"));
  // The same files fit a guest with enough memory (checked, not packed: 2G holds 600 MiB).
  EXPECT_EQ(initrd_fits_problem(601ull << 20, "2G", "x"), "");
}

TEST(GuestImage, MarginRuleIsHalfTheMemoryLessTheMargin) {
  uint64_t room = (256ull << 20) / 2 - k_initrd_memory_margin; // 96 MiB for 256M
  EXPECT_EQ(initrd_fits_problem(room, "256M", "x"), "");
  EXPECT_NE(initrd_fits_problem(room + 1, "256M", "x"), "");
  EXPECT_EQ(initrd_fits_problem(room, "256", "x"), "") << "a bare number is MiB, as for -m";
  EXPECT_NE(initrd_fits_problem(1, "32M", "x"), "") << "no room at all below 64M";
  EXPECT_EQ(initrd_fits_problem(1ull << 40, "", "x"), "") << "no memory given: not checked";
}

TEST(GuestImage, KernelModulePathsDropTheCompressionSuffix) {
  EXPECT_EQ(guest_kernel_module_path("6.12.1", "kernel/drivers/media/mc/mc.ko.xz"),
            "/lib/modules/6.12.1/kernel/drivers/media/mc/mc.ko");
  EXPECT_EQ(guest_kernel_module_path("6.1.0", "kernel/fs/fat/fat.ko"),
            "/lib/modules/6.1.0/kernel/fs/fat/fat.ko");
  EXPECT_EQ(guest_kernel_module_path("V", "kernel/a/b.ko.zst"), "/lib/modules/V/kernel/a/b.ko");
}

// The kernel's modules go where modprobe finds them, depmod sees them beside the scenario's,
// and the image's key hashes their files: new bytes of the same module (a kernel update)
// pack a new initrd.
TEST(GuestImage, KernelModulesLiveInTheReleaseTreeAndTheirBytesAreInTheKey) {
  test::ScratchDir dir;
  std::string elf = std::string("\x7f"
                                "ELF\x02\x01\x01",
                                7) +
                    std::string(100, 'k');
  fs::path kernel = dir.mkdir("kernel-modules");
  dir.write("kernel-modules/kernel/a/core.ko", elf);
  dir.write("kernel-modules/kernel/b/ship.ko", elf);
  // depmod -b STAGING RELEASE: fails unless both kernel modules are in the staging tree.
  fs::path depmod = dir.write("depmod", "#!/bin/sh\n"
                                        "t=\"$2/lib/modules/$3\"\n"
                                        "test -f \"$t/kernel/a/core.ko\" || exit 1\n"
                                        "test -f \"$t/kernel/b/ship.ko\" || exit 1\n"
                                        "echo 'kernel/a/core.ko:' > \"$t/modules.dep\"\n");
  fs::permissions(depmod, fs::perms::owner_all);
  GuestImageSpec spec = small_spec(dir);
  spec.release = "6.1.0-test";
  spec.depmod = depmod;
  spec.kernel_modules = {{"kernel/a/core.ko", true}, {"kernel/b/ship.ko", false}};
  spec.kernel_modules_dir = kernel;
  auto first = build_guest_image(spec, dir.path() / "cache");
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto has = [&](const GuestImage& image, const std::string& what) {
    for (const auto& line : image.listing)
      if (line.ends_with(" " + what))
        return true;
    return false;
  };
  EXPECT_TRUE(has(*first, "/lib/modules/6.1.0-test/kernel/a/core.ko"));
  EXPECT_TRUE(has(*first, "/lib/modules/6.1.0-test/kernel/b/ship.ko"));
  EXPECT_TRUE(has(*first, "/lib/modules/6.1.0-test/modules.dep"));

  std::string updated = elf;
  updated.back() = 'u';
  dir.write("kernel-modules/kernel/a/core.ko", updated);
  auto second = build_guest_image(spec, dir.path() / "cache");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_FALSE(second->cached);
  EXPECT_NE(second->path, first->path);
}

} // namespace
} // namespace labctl
