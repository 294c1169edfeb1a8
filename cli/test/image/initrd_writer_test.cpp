#include "image/initrd_writer.h"

#include "test_support.h"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace labctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// One entry as libarchive reads it back.
struct ReadEntry {
  std::string path;
  mode_t type = 0;
  mode_t perm = 0;
  std::string data;
  std::string symlink;
  int64_t uid = -1, gid = -1, mtime = -1, ino = -1;
};

std::vector<ReadEntry> read_back(const std::string& archive_bytes, std::string* filter = nullptr) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_all(a.get());
  archive_read_support_filter_all(a.get());
  EXPECT_EQ(archive_read_open_memory(a.get(), archive_bytes.data(), archive_bytes.size()),
            ARCHIVE_OK)
      << archive_error_string(a.get());
  std::vector<ReadEntry> entries;
  archive_entry* e = nullptr;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    ReadEntry r;
    r.path = archive_entry_pathname(e);
    r.type = archive_entry_filetype(e);
    r.perm = archive_entry_perm(e);
    r.uid = archive_entry_uid(e);
    r.gid = archive_entry_gid(e);
    r.mtime = archive_entry_mtime(e);
    r.ino = archive_entry_ino64(e);
    if (const char* target = archive_entry_symlink(e))
      r.symlink = target;
    char buf[4096];
    for (la_ssize_t n; (n = archive_read_data(a.get(), buf, sizeof buf)) > 0;)
      r.data.append(buf, static_cast<size_t>(n));
    entries.push_back(std::move(r));
  }
  if (filter)
    *filter = archive_filter_name(a.get(), 0);
  EXPECT_EQ(archive_format(a.get()), ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);
  return entries;
}

InitrdWriter sample() {
  InitrdWriter w;
  EXPECT_TRUE(w.add_file("/init", "#!/bin/sh\necho hi\n", 0755).ok());
  EXPECT_TRUE(w.add_file("/bin/busybox", std::string(100000, 'b'), 0755).ok());
  EXPECT_TRUE(w.add_symlink("/bin/sh", "busybox").ok());
  EXPECT_TRUE(w.add_directory("/proc", 0555).ok());
  EXPECT_TRUE(w.add_file("/etc/motd", "", 0644).ok());
  return w;
}

TEST(InitrdWriter, RoundTripsNamesModesTypesContentsAndTargets) {
  auto packed = sample().pack(InitrdCompression::none);
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  auto entries = read_back(*packed);
  std::vector<std::string> names;
  for (const auto& e : entries)
    names.push_back(e.path);
  // Sorted, parents first, the implicit /bin and /etc included.
  EXPECT_THAT(names,
              ElementsAre("bin", "bin/busybox", "bin/sh", "etc", "etc/motd", "init", "proc"));
  EXPECT_EQ(entries[0].type, AE_IFDIR);
  EXPECT_EQ(entries[0].perm, 0755u);
  EXPECT_EQ(entries[1].type, AE_IFREG);
  EXPECT_EQ(entries[1].perm, 0755u);
  EXPECT_EQ(entries[1].data, std::string(100000, 'b'));
  EXPECT_EQ(entries[2].type, AE_IFLNK);
  EXPECT_EQ(entries[2].symlink, "busybox");
  EXPECT_EQ(entries[4].data, "");
  EXPECT_EQ(entries[4].perm, 0644u);
  EXPECT_EQ(entries[5].data, "#!/bin/sh\necho hi\n");
  EXPECT_EQ(entries[6].type, AE_IFDIR);
  EXPECT_EQ(entries[6].perm, 0555u);
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].uid, 0) << entries[i].path;
    EXPECT_EQ(entries[i].gid, 0) << entries[i].path;
    EXPECT_EQ(entries[i].mtime, 0) << entries[i].path;
    EXPECT_EQ(entries[i].ino, static_cast<int64_t>(i + 1)) << entries[i].path;
  }
}

TEST(InitrdWriter, ArchiveEndsRightAfterTheTrailer) {
  auto packed = sample().pack(InitrdCompression::none);
  ASSERT_TRUE(packed.ok());
  size_t trailer = packed->rfind("TRAILER!!!");
  ASSERT_NE(trailer, std::string::npos);
  // Name, NUL, then padding to a multiple of 4: no 10 KiB block of zeros.
  EXPECT_LE(packed->size() - trailer, 11u + 3u);
  EXPECT_EQ(packed->size() % 4, 0u);
  EXPECT_EQ(packed->substr(0, 6), "070701");
}

TEST(InitrdWriter, EachCompressionReadsBack) {
  for (auto [c, filter] :
       {std::pair{InitrdCompression::none, "none"}, std::pair{InitrdCompression::gzip, "gzip"},
        std::pair{InitrdCompression::zstd, "zstd"}}) {
    auto packed = sample().pack(c);
    ASSERT_TRUE(packed.ok()) << initrd_compression_name(c) << ": " << packed.error().message;
    std::string seen;
    auto entries = read_back(*packed, &seen);
    EXPECT_EQ(seen, filter);
    EXPECT_EQ(entries.size(), 7u) << filter;
  }
}

TEST(InitrdWriter, GzipHeaderHasNoTimestamp) {
  auto packed = sample().pack(InitrdCompression::gzip);
  ASSERT_TRUE(packed.ok());
  ASSERT_GE(packed->size(), 10u);
  EXPECT_EQ(packed->substr(0, 2), "\x1f\x8b");
  EXPECT_EQ(packed->substr(4, 4), std::string(4, '\0')) << "MTIME must be 0";
  EXPECT_EQ(static_cast<uint8_t>((*packed)[3]) & 0x08, 0) << "no FNAME";
}

TEST(InitrdWriter, SameEntriesGiveIdenticalBytesWhateverTheOrder) {
  InitrdWriter reversed;
  ASSERT_TRUE(reversed.add_file("/etc/motd", "", 0644).ok());
  ASSERT_TRUE(reversed.add_directory("/proc", 0555).ok());
  ASSERT_TRUE(reversed.add_symlink("/bin/sh", "busybox").ok());
  ASSERT_TRUE(reversed.add_file("/bin/busybox", std::string(100000, 'b'), 0755).ok());
  ASSERT_TRUE(reversed.add_file("/init", "#!/bin/sh\necho hi\n", 0755).ok());
  for (auto c : {InitrdCompression::none, InitrdCompression::gzip, InitrdCompression::zstd}) {
    auto a = sample().pack(c), b = sample().pack(c), r = reversed.pack(c);
    ASSERT_TRUE(a.ok() && b.ok() && r.ok());
    EXPECT_TRUE(*a == *b) << initrd_compression_name(c);
    EXPECT_TRUE(*a == *r) << initrd_compression_name(c);
  }
}

TEST(InitrdWriter, InvalidPathsAreBadInput) {
  InitrdWriter w;
  for (const std::string& path :
       std::vector<std::string>{"", "init", "/", "/a/../b", "/a/./b", "/..", "/a//b", "/a/",
                                std::string("/a\0b", 4), "/" + std::string(5000, 'x')}) {
    auto r = w.add_file(path, "x");
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.error().code, ExitCode::bad_input);
    EXPECT_THAT(r.error().message, HasSubstr("invalid initrd path"));
  }
  EXPECT_FALSE(w.add_directory("/a/../b").ok());
  EXPECT_FALSE(w.add_symlink("relative", "x").ok());
  EXPECT_FALSE(w.add_symlink("/bin/sh", "").ok());
  EXPECT_FALSE(w.add_file("/x", "x", 010755).ok());
  EXPECT_EQ(w.size(), 0u);
}

TEST(InitrdWriter, MissingHostFileIsAnErrorNamingIt) {
  test::ScratchDir dir;
  InitrdWriter w;
  auto r = w.add_file_from_disk("/usr/bin/probe.sh", dir.path() / "no-such-probe.sh", 0755);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ExitCode::bad_input);
  EXPECT_THAT(r.error().message, HasSubstr("no-such-probe.sh"));
  EXPECT_THAT(r.error().message, HasSubstr("/usr/bin/probe.sh"));
  EXPECT_THAT(r.error().message, HasSubstr("No such file"));
  EXPECT_EQ(w.size(), 0u);
}

TEST(InitrdWriter, HostFileKeepsItsModeUnlessOneIsGiven) {
  test::ScratchDir dir;
  fs::path script = dir.write("probe.sh", "echo probe\n");
  fs::permissions(script, fs::perms(0750));
  InitrdWriter w;
  ASSERT_TRUE(w.add_file_from_disk("/usr/bin/probe.sh", script).ok());
  ASSERT_TRUE(w.add_file_from_disk("/etc/probe.conf", script, 0600).ok());
  EXPECT_THAT(w.listing(),
              ElementsAre("drwxr-xr-x 0 /etc", "-rw------- 11 /etc/probe.conf", "drwxr-xr-x 0 /usr",
                          "drwxr-xr-x 0 /usr/bin", "-rwxr-x--- 11 /usr/bin/probe.sh"));
}

TEST(InitrdWriter, LaterEntryForTheSamePathWins) {
  InitrdWriter w;
  ASSERT_TRUE(w.add_file("/init", "old", 0644).ok());
  ASSERT_TRUE(w.add_file("/init", "new", 0755).ok());
  ASSERT_TRUE(w.add_file("/bin/x", "x").ok());
  ASSERT_TRUE(w.add_directory("/bin", 0700).ok()); // the implicit parent becomes explicit
  ASSERT_TRUE(w.add_file("/link", "x").ok());
  ASSERT_TRUE(w.add_symlink("/link", "init").ok());
  EXPECT_THAT(w.listing(), ElementsAre("drwx------ 0 /bin", "-rw-r--r-- 1 /bin/x",
                                       "-rwxr-xr-x 3 /init", "lrwxrwxrwx 4 /link -> init"));
}

TEST(InitrdWriter, ConflictingTypesAreErrors) {
  InitrdWriter w;
  ASSERT_TRUE(w.add_file("/bin/busybox", "x").ok());
  auto below_file = w.add_file("/bin/busybox/sh", "x");
  ASSERT_FALSE(below_file.ok());
  EXPECT_THAT(below_file.error().message, HasSubstr("/bin/busybox is a file"));
  auto replace_dir = w.add_symlink("/bin", "usr/bin");
  ASSERT_FALSE(replace_dir.ok());
  EXPECT_THAT(replace_dir.error().message, HasSubstr("/bin/busybox is inside it"));
  ASSERT_TRUE(w.add_symlink("/lib", "usr/lib").ok());
  EXPECT_FALSE(w.add_file("/lib/modules/x.ko", "x").ok());
  EXPECT_EQ(w.size(), 3u);
}

TEST(InitrdWriter, ListingShowsSpecialBits) {
  InitrdWriter w;
  ASSERT_TRUE(w.add_directory("/tmp", 01777).ok());
  ASSERT_TRUE(w.add_file("/bin/su", "x", 04755).ok());
  EXPECT_THAT(w.listing(),
              ElementsAre("drwxr-xr-x 0 /bin", "-rwsr-xr-x 1 /bin/su", "drwxrwxrwt 0 /tmp"));
}

TEST(InitrdWriter, TrailerNameIsRefusedBecauseItWouldEndTheArchive) {
  // Found by the initrd_writer fuzz target: "/TRAILER!!!" packed as the cpio end marker, and
  // every entry sorted after it vanished from the guest.
  InitrdWriter w;
  auto s = w.add_file("/TRAILER!!!", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ExitCode::bad_input);
  EXPECT_NE(s.error().message.find("end of a cpio archive"), std::string::npos)
      << s.error().message;
  EXPECT_FALSE(w.add_file("/TRAILER!!!/x", "x").ok()) << "its parent would be added";
  EXPECT_TRUE(w.add_file("/etc/TRAILER!!!", "x").ok()) << "only the top-level name is special";
  EXPECT_EQ(w.size(), 2u); // /etc and /etc/TRAILER!!!
}

} // namespace
} // namespace labctl
