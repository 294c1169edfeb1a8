#include "test_support.h"
#include "util/fs.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace labctl {
namespace {

using test::ScratchDir;

// Sets the process umask for one test and puts the old one back.
class UmaskScope {
public:
  explicit UmaskScope(mode_t mask) : m_old(::umask(mask)) {}
  ~UmaskScope() { ::umask(m_old); }

private:
  mode_t m_old;
};

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode;
}

ino_t inode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

std::string contents(const fs::path& p) {
  auto data = read_file(p);
  return data ? *data : "<unreadable: " + data.error().message + ">";
}

TEST(WriteFileAtomic, ModeFollowsTheUmask) {
  ScratchDir dir;
  {
    UmaskScope mask(077);
    ASSERT_TRUE(write_file_atomic(dir.path() / "private", "x").ok());
  }
  {
    UmaskScope mask(022);
    ASSERT_TRUE(write_file_atomic(dir.path() / "shared", "x").ok());
  }
  EXPECT_EQ(mode_of(dir.path() / "private") & 0777, 0600u);
  EXPECT_EQ(mode_of(dir.path() / "shared") & 0777, 0644u);
}

TEST(WriteFileAtomic, ReplacesASymlinkWithoutWritingItsTarget) {
  ScratchDir dir;
  auto target = dir.write("target", "keep me");
  fs::create_symlink(target, dir.path() / "link");
  ASSERT_TRUE(write_file_atomic(dir.path() / "link", "new").ok());
  EXPECT_EQ(contents(target), "keep me");
  EXPECT_FALSE(fs::is_symlink(dir.path() / "link"));
  EXPECT_EQ(contents(dir.path() / "link"), "new");
}

TEST(WriteNewFile, RefusesASymlinkAndLeavesItsTargetAlone) {
  ScratchDir dir;
  auto target = dir.write("target", "keep me");
  fs::create_symlink(target, dir.path() / "console.log");
  auto s = write_new_file(dir.path() / "console.log", "planted?");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find((dir.path() / "console.log").string()), std::string::npos)
      << s.error().message;
  EXPECT_EQ(contents(target), "keep me");
}

TEST(WriteNewFile, RefusesAnExistingFileAndCreatesANewOneUnderTheUmask) {
  ScratchDir dir;
  auto old = dir.write("old", "stale");
  auto s = write_new_file(old, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("File exists"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().error_number, EEXIST);
  UmaskScope mask(077);
  ASSERT_TRUE(write_new_file(dir.path() / "new", "fresh").ok());
  EXPECT_EQ(contents(dir.path() / "new"), "fresh");
  EXPECT_EQ(mode_of(dir.path() / "new") & 0777, 0600u);
}

TEST(WriteReportFile, AFullDeviceIsAnEnvironmentErrorNamingTheFile) {
  // /dev/full: every write fails with ENOSPC, as on a full disk.
  auto s = write_report_file("/dev/full", "data");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().error_number, ENOSPC);
  EXPECT_NE(s.error().message.find("/dev/full"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("No space left on device"), std::string::npos)
      << s.error().message;
}

TEST(WriteReportFile, ARegularFileIsReplacedAtomically) {
  ScratchDir dir;
  auto report = dir.write("report.xml", "old");
  auto before = inode_of(report);
  ASSERT_TRUE(write_report_file(report, "new").ok());
  EXPECT_EQ(contents(report), "new");
  EXPECT_NE(inode_of(report), before) << "written in place instead of renamed over";
  ASSERT_TRUE(write_report_file(dir.path() / "sub/fresh.json", "made").ok());
  EXPECT_EQ(contents(dir.path() / "sub/fresh.json"), "made");
}

TEST(WriteReportFile, ASymlinkKeepsTheLinkAndItsTargetGetsTheReport) {
  ScratchDir dir;
  auto target = dir.write("reports/real.json", "old");
  fs::create_symlink("reports/real.json", dir.path() / "relative-link");
  fs::create_symlink(dir.path() / "relative-link", dir.path() / "link-to-link");
  ASSERT_TRUE(write_report_file(dir.path() / "link-to-link", "report").ok());
  EXPECT_TRUE(fs::is_symlink(dir.path() / "link-to-link"));
  EXPECT_TRUE(fs::is_symlink(dir.path() / "relative-link"));
  EXPECT_EQ(contents(target), "report");
  // A dangling link: its target is created, the link stays.
  fs::create_symlink(dir.path() / "later.json", dir.path() / "dangling");
  ASSERT_TRUE(write_report_file(dir.path() / "dangling", "made").ok());
  EXPECT_TRUE(fs::is_symlink(dir.path() / "dangling"));
  EXPECT_EQ(contents(dir.path() / "later.json"), "made");
}

TEST(WriteReportFile, DevNullStaysACharacterDevice) {
  ASSERT_TRUE(write_report_file("/dev/null", "<testsuite/>").ok());
  EXPECT_TRUE(S_ISCHR(mode_of("/dev/null"))) << "/dev/null was replaced";
}

TEST(WriteReportFile, AFifoIsWrittenThroughNotReplaced) {
  ScratchDir dir;
  auto fifo = dir.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] {
    int fd = ::open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
    char buf[256];
    for (ssize_t n; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;)
      got.append(buf, static_cast<size_t>(n));
    ::close(fd);
  });
  auto s = write_report_file(fifo, "through the pipe");
  reader.join();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(got, "through the pipe");
  EXPECT_TRUE(S_ISFIFO(mode_of(fifo)));
}

TEST(WriteReportFile, DevStdoutWritesToTheOpenFileAfterWhatWasThere) {
  // /dev/stdout -> /proc/self/fd/1: written through, with the file's own contents kept.
  ScratchDir dir;
  auto out = dir.write("stdout.txt", "printed before\n");
  int saved = ::dup(STDOUT_FILENO);
  int fd = ::open(out.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ::dup2(fd, STDOUT_FILENO);
  ::close(fd);
  auto s = write_report_file("/dev/stdout", "report\n");
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(contents(out), "printed before\nreport\n");
  EXPECT_TRUE(fs::is_symlink("/dev/stdout"));
}

TEST(WriteReportFile, AFolderOrAParentThatIsAFileIsAnErrorNamingThePath) {
  ScratchDir dir;
  auto folder = dir.mkdir("a-folder");
  auto s = write_report_file(folder, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().error_number, EISDIR);
  EXPECT_NE(s.error().message.find(folder.string()), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("Is a directory"), std::string::npos) << s.error().message;
  auto file = dir.write("a-file", "");
  s = write_report_file(file / "report.xml", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("Not a directory"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find((file / "report.xml").string()), std::string::npos)
      << s.error().message;
}

TEST(RemoveTree, FollowsNoSymlink) {
  ScratchDir dir;
  auto outside = dir.write("outside/precious", "keep");
  dir.write("tree/a/b/file", "x");
  fs::create_symlink(dir.path() / "outside", dir.path() / "tree/a/link-to-folder");
  fs::create_symlink(outside, dir.path() / "tree/link-to-file");
  ASSERT_TRUE(remove_tree(dir.path() / "tree").ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir.path() / "tree")));
  EXPECT_EQ(contents(outside), "keep");
  EXPECT_TRUE(remove_tree(dir.path() / "never-there").ok());
}

TEST(MakeFreshDirectory, ReplacesAStaleFolderOrASymlinkWithANewEmptyFolder) {
  ScratchDir dir;
  dir.write("s/faults.txt", "stale fault");
  ASSERT_TRUE(make_fresh_directory(dir.path() / "s").ok());
  EXPECT_TRUE(fs::is_empty(dir.path() / "s"));
  // A symlinked scenario folder: the link goes, what it pointed at stays.
  auto elsewhere = dir.write("elsewhere/file", "keep");
  fs::create_symlink(dir.path() / "elsewhere", dir.path() / "t");
  UmaskScope mask(077);
  ASSERT_TRUE(make_fresh_directory(dir.path() / "t").ok());
  EXPECT_FALSE(fs::is_symlink(dir.path() / "t"));
  EXPECT_TRUE(fs::is_empty(dir.path() / "t"));
  EXPECT_EQ(contents(elsewhere), "keep");
  EXPECT_EQ(mode_of(dir.path() / "t") & 0777, 0700u);
}

TEST(FileLock, ASecondHolderIsRefusedNamingTheFirstsPid) {
  ScratchDir dir;
  auto path = dir.path() / ".labctl-lock";
  {
    auto first = FileLock::try_acquire(path);
    ASSERT_TRUE(first.ok()) << first.error().message;
    // flock locks belong to the open file: a second open in this process conflicts too.
    auto second = FileLock::try_acquire(path);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().error_number, EWOULDBLOCK);
    EXPECT_NE(second.error().message.find(fmt::format("pid {}", ::getpid())), std::string::npos)
        << second.error().message;
    EXPECT_NE(second.error().message.find(path.string()), std::string::npos)
        << second.error().message;
  }
  EXPECT_TRUE(FileLock::try_acquire(path).ok()) << "not released with its owner";
  // A planted symlink is not followed.
  fs::create_symlink(dir.path() / "target", dir.path() / "planted");
  EXPECT_FALSE(FileLock::try_acquire(dir.path() / "planted").ok());
  EXPECT_FALSE(fs::exists(dir.path() / "target"));
}

} // namespace
} // namespace labctl
