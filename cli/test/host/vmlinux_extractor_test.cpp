#include "host/vmlinux_extractor.h"

#include "test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <sys/stat.h>

namespace labctl {
namespace {

using ::testing::HasSubstr;

void put_le(std::string& s, size_t offset, uint64_t value, size_t size) {
  if (s.size() < offset + size)
    s.resize(offset + size, '\0');
  for (size_t i = 0; i < size; ++i)
    s[offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t get_le(std::string_view s, size_t offset, size_t size) {
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i)
    v |= uint64_t{static_cast<uint8_t>(s[offset + i])} << (8 * i);
  return v;
}

// A minimal x86-64 ELF executable: one PT_LOAD, one PT_NOTE (the PVH note when `pvh`),
// some filler, and a section header table at the end like vmlinux has.
std::string make_elf(bool pvh = true) {
  std::string elf;
  elf.append("\x7f"
             "ELF",
             4);
  elf += '\x02'; // 64-bit
  elf += '\x01'; // little-endian
  elf += '\x01'; // version
  elf.resize(64, '\0');
  put_le(elf, 16, 2, 2);  // ET_EXEC
  put_le(elf, 18, 62, 2); // EM_X86_64
  put_le(elf, 20, 1, 4);
  put_le(elf, 32, 64, 8); // e_phoff
  put_le(elf, 52, 64, 2);
  put_le(elf, 54, 56, 2);
  put_le(elf, 56, 2, 2);
  put_le(elf, 58, 64, 2);
  size_t note = 64 + 2 * 56;
  put_le(elf, note, 4, 4);
  put_le(elf, note + 4, 4, 4);
  put_le(elf, note + 8, pvh ? 18 : 17, 4);
  elf.append("Xen\0", 4);
  put_le(elf, note + 16, 0x1000000, 4);
  size_t filler = elf.size();
  for (int i = 0; i < 20000; ++i)
    elf += "kernel text " + std::to_string(i) + "\n";
  size_t shoff = elf.size();
  elf.resize(shoff + 2 * 64, '\0');
  put_le(elf, shoff + 64 + 4, 1, 4);               // section 1: SHT_PROGBITS
  put_le(elf, shoff + 64 + 24, filler, 8);         // sh_offset
  put_le(elf, shoff + 64 + 32, shoff - filler, 8); // sh_size
  put_le(elf, 40, shoff, 8);
  put_le(elf, 60, 2, 2);
  // phdr 0: PT_LOAD over the whole file; phdr 1: PT_NOTE.
  put_le(elf, 64, 1, 4);
  put_le(elf, 64 + 32, elf.size(), 8);
  put_le(elf, 120, 4, 4);
  put_le(elf, 120 + 8, note, 8);
  put_le(elf, 120 + 32, 20, 8);
  return elf;
}

std::string gzip(std::string_view data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string xz(std::string_view data) {
  std::string out(lzma_stream_buffer_bound(data.size()), '\0');
  size_t pos = 0;
  EXPECT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, nullptr,
                                    reinterpret_cast<const uint8_t*>(data.data()), data.size(),
                                    reinterpret_cast<uint8_t*>(out.data()), &pos, out.size()),
            LZMA_OK);
  out.resize(pos);
  return out;
}

// With a content checksum, as the zstd program (and so the kernel build) writes by default.
std::string zstd(std::string_view data) {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress2(ctx.get(), out.data(), out.size(), data.data(), data.size());
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A bzImage-shaped file: real-mode setup with a protocol 2.15 header, then the protected-mode
// part with the payload (plus the appended le32 size, as the kernel build does) inside it.
std::string make_bzimage(std::string_view compressed, size_t uncompressed_size,
                         bool payload_fields = true) {
  const size_t setup_sects = 3, payload_offset = 0x300;
  std::string image((setup_sects + 1) * 512, '\0');
  image[0x1f1] = static_cast<char>(setup_sects);
  image.replace(0x202, 4, "HdrS");
  put_le(image, 0x206, 0x20f, 2);
  image.append(payload_offset, '\x90');
  image.append(compressed);
  put_le(image, image.size(), uncompressed_size, 4);
  if (payload_fields) {
    put_le(image, 0x248, payload_offset, 4);
    put_le(image, 0x24c, compressed.size() + 4, 4);
  }
  image.append(4096, '\xcc');
  return image;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng() & 0xff);
  return s;
}

TEST(VmlinuxExtractor, DetectsCompressionByMagic) {
  EXPECT_EQ(detect_compression(gzip("x")), Compression::gzip);
  EXPECT_EQ(detect_compression(xz("x")), Compression::xz);
  EXPECT_EQ(detect_compression(zstd("x")), Compression::zstd);
  EXPECT_EQ(detect_compression("\x7f"
                               "ELF"),
            Compression::none);
  EXPECT_EQ(detect_compression(""), Compression::none);
}

TEST(VmlinuxExtractor, DecompressRoundTripsAndIgnoresTrailingBytes) {
  std::string data = random_bytes(3 << 20, 7) + std::string(1 << 20, 'a');
  for (auto [c, packed] :
       {std::pair{Compression::gzip, gzip(data)}, std::pair{Compression::xz, xz(data)},
        std::pair{Compression::zstd, zstd(data)}}) {
    auto out = decompress(packed + "trailing garbage", c, 64 << 20);
    ASSERT_TRUE(out.ok()) << compression_name(c) << ": " << out.error().message;
    EXPECT_TRUE(*out == data) << compression_name(c);
  }
}

TEST(VmlinuxExtractor, DecompressReportsTruncationCorruptionAndSizeCap) {
  std::string data(4 << 20, 'z');
  data += random_bytes(1 << 20, 3);
  for (auto [c, packed] :
       {std::pair{Compression::gzip, gzip(data)}, std::pair{Compression::xz, xz(data)},
        std::pair{Compression::zstd, zstd(data)}}) {
    std::string name(compression_name(c));
    auto cut = decompress(std::string_view(packed).substr(0, packed.size() / 2), c, 64 << 20);
    ASSERT_FALSE(cut.ok()) << name;
    EXPECT_THAT(cut.error().message, HasSubstr(name + " stream truncated"));
    EXPECT_EQ(cut.error().code, ExitCode::bad_input);

    std::string flipped = packed;
    for (size_t i = flipped.size() / 3; i < flipped.size() / 3 + 64; ++i)
      flipped[i] = static_cast<char>(~flipped[i]);
    auto bad = decompress(flipped, c, 64 << 20);
    ASSERT_FALSE(bad.ok()) << name;
    EXPECT_THAT(bad.error().message, HasSubstr(name + " stream"));

    auto capped = decompress(packed, c, 1 << 20);
    ASSERT_FALSE(capped.ok()) << name;
    EXPECT_THAT(capped.error().message, HasSubstr("more than 1 MiB"));
  }
}

TEST(VmlinuxExtractor, ChecksPvhElf) {
  EXPECT_TRUE(check_pvh_elf(make_elf()).ok());
  auto no_note = check_pvh_elf(make_elf(false));
  ASSERT_FALSE(no_note.ok());
  EXPECT_THAT(no_note.error().message, HasSubstr("no PVH note"));
  std::string elf = make_elf();
  auto cut = check_pvh_elf(std::string_view(elf).substr(0, elf.size() - 10));
  ASSERT_FALSE(cut.ok());
  EXPECT_THAT(cut.error().message, HasSubstr("truncated"));
  std::string arm = elf;
  put_le(arm, 18, 183, 2);
  EXPECT_THAT(check_pvh_elf(arm).error().message, HasSubstr("not an x86-64"));
  EXPECT_THAT(check_pvh_elf("MZ").error().message, HasSubstr("not an ELF"));
}

TEST(VmlinuxExtractor, ExtractsEachCompressionFromSyntheticBzImage) {
  std::string elf = make_elf();
  for (const auto& packed : {gzip(elf), xz(elf), zstd(elf)}) {
    auto out = extract_vmlinux(make_bzimage(packed, elf.size()));
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_TRUE(*out == elf);
  }
}

TEST(VmlinuxExtractor, ScansWhenHeaderHasNoPayloadFields) {
  std::string elf = make_elf();
  auto out = extract_vmlinux(make_bzimage(xz(elf), elf.size(), false));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_TRUE(*out == elf);
}

TEST(VmlinuxExtractor, KernelWithoutPvhNoteIsRejected) {
  std::string elf = make_elf(false);
  auto out = extract_vmlinux(make_bzimage(gzip(elf), elf.size()));
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.error().message, HasSubstr("decompressed kernel has no PVH note"));
}

TEST(VmlinuxExtractor, RejectsWhatIsNotABzImage) {
  auto empty = extract_vmlinux("");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.error().message, HasSubstr("not a bzImage"));
  auto random = extract_vmlinux(random_bytes(1 << 20, 42));
  ASSERT_FALSE(random.ok());
  EXPECT_THAT(random.error().message, HasSubstr("no HdrS magic"));
  EXPECT_EQ(random.error().code, ExitCode::bad_input);
  std::string image = make_bzimage(gzip(make_elf()), make_elf().size());
  auto cut = extract_vmlinux(std::string_view(image).substr(0, 3000));
  ASSERT_FALSE(cut.ok());
  EXPECT_THAT(cut.error().message, HasSubstr("bzImage truncated"));
}

// The real kernel of this host: extracted once for the whole suite (about a second).
class VmlinuxRealKernel : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/boot", ec))
      if (entry.path().filename().string().rfind("vmlinuz-", 0) == 0 && entry.is_regular_file())
        s_image = std::max(s_image, entry.path());
    if (s_image.empty())
      return;
    auto data = read_file(s_image);
    if (!data) // not readable by this user
      s_image.clear();
    else
      s_bzimage = std::move(*data);
  }
  static void TearDownTestSuite() { s_bzimage.clear(); }
  void SetUp() override {
    if (s_image.empty())
      GTEST_SKIP() << "no readable /boot/vmlinuz-*";
  }
  static inline fs::path s_image;
  static inline std::string s_bzimage;
};

TEST_F(VmlinuxRealKernel, ExtractsX86_64ElfWithPvhNote) {
  auto elf = extract_vmlinux(s_bzimage);
  ASSERT_TRUE(elf.ok()) << s_image << ": " << elf.error().message;
  EXPECT_EQ(elf->substr(0, 4), "\x7f"
                               "ELF");
  EXPECT_EQ(get_le(*elf, 18, 2), 62u); // EM_X86_64
  EXPECT_TRUE(check_pvh_elf(*elf).ok());
  EXPECT_GT(elf->size(), s_bzimage.size());
}

TEST_F(VmlinuxRealKernel, CorruptImagesGiveErrors) {
  std::string_view image = s_bzimage;
  auto cut = extract_vmlinux(image.substr(0, image.size() / 2));
  ASSERT_FALSE(cut.ok());
  EXPECT_THAT(cut.error().message, HasSubstr("truncated"));

  std::string flipped = s_bzimage;
  size_t payload = (static_cast<uint8_t>(flipped[0x1f1]) + 1) * 512 + get_le(flipped, 0x248, 4);
  size_t length = get_le(flipped, 0x24c, 4);
  for (size_t i = payload + length / 2; i < payload + length / 2 + 256; ++i)
    flipped[i] = static_cast<char>(~flipped[i]);
  auto bad = extract_vmlinux(flipped);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("bzImage payload:"));
  EXPECT_EQ(bad.error().code, ExitCode::bad_input);
}

ino_t inode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

TEST_F(VmlinuxRealKernel, CachesExtractedKernelAndReusesIt) {
  test::ScratchDir cache;
  std::string why;
  fs::path first = bootable_kernel(s_image, cache.path(), &why);
  ASSERT_NE(first, s_image) << why;
  EXPECT_EQ(first.parent_path(), cache.path() / "vmlinux");
  EXPECT_EQ(first.extension(), ".elf");
  auto mtime = fs::last_write_time(first);
  auto inode = inode_of(first);

  fs::path second = bootable_kernel(s_image, cache.path(), &why);
  EXPECT_EQ(second, first);
  EXPECT_EQ(fs::last_write_time(second), mtime);
  EXPECT_EQ(inode_of(second), inode);
  // No temporary files are left behind.
  EXPECT_EQ(
      std::distance(fs::directory_iterator(cache.path() / "vmlinux"), fs::directory_iterator()), 1);
}

TEST_F(VmlinuxRealKernel, TruncatedCacheEntryIsRebuilt) {
  test::ScratchDir cache;
  fs::path cached = bootable_kernel(s_image, cache.path());
  ASSERT_NE(cached, s_image);
  auto full = fs::file_size(cached);
  fs::resize_file(cached, full / 2);

  std::string why;
  fs::path again = bootable_kernel(s_image, cache.path(), &why);
  EXPECT_EQ(again, cached) << why;
  EXPECT_EQ(fs::file_size(again), full);
  auto data = read_file(again);
  ASSERT_TRUE(data.ok());
  EXPECT_TRUE(check_pvh_elf(*data).ok());
}

TEST(VmlinuxExtractor, BootableKernelFallsBackToTheImageWithAReason) {
  test::ScratchDir dir;
  fs::path corrupt = dir.write("vmlinuz-corrupt", random_bytes(100000, 5));
  std::string why;
  EXPECT_EQ(bootable_kernel(corrupt, dir.path() / "cache", &why), corrupt);
  EXPECT_THAT(why, HasSubstr("no HdrS magic"));
  // The verdict is remembered next to where the ELF would go, and given again.
  auto remembered = std::count_if(
      fs::directory_iterator(dir.path() / "cache" / "vmlinux"), fs::directory_iterator(),
      [](const fs::directory_entry& e) { return e.path().extension() == ".failed"; });
  EXPECT_EQ(remembered, 1);
  std::string again;
  EXPECT_EQ(bootable_kernel(corrupt, dir.path() / "cache", &again), corrupt);
  EXPECT_EQ(again, why);

  fs::path missing = dir.path() / "vmlinuz-missing";
  why.clear();
  EXPECT_EQ(bootable_kernel(missing, dir.path() / "cache", &why), missing);
  EXPECT_THAT(why, HasSubstr("vmlinuz-missing"));

  fs::path empty = dir.write("vmlinuz-empty", "");
  EXPECT_EQ(bootable_kernel(empty, dir.path() / "cache"), empty);
}

TEST(VmlinuxExtractor, BootableKernelUsesSyntheticImageAndPvhElfAsIs) {
  test::ScratchDir dir;
  std::string elf = make_elf();
  fs::path image = dir.write("vmlinuz-test", make_bzimage(zstd(elf), elf.size()));
  fs::path cached = bootable_kernel(image, dir.path() / "cache");
  ASSERT_NE(cached, image);
  EXPECT_EQ(*read_file(cached), elf);

  fs::path plain = dir.write("vmlinux", elf);
  EXPECT_EQ(bootable_kernel(plain, dir.path() / "cache"), plain);
  fs::path no_note = dir.write("vmlinux-nonote", make_elf(false));
  std::string why;
  EXPECT_EQ(bootable_kernel(no_note, dir.path() / "cache", &why), no_note);
  EXPECT_THAT(why, HasSubstr("no PVH note"));
}

} // namespace
} // namespace labctl
