#include "vm/artifact_folder.h"

#include "test_support.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

namespace labctl {
namespace {

std::string contents(const fs::path& p) {
  auto data = read_file(p);
  return data ? *data : "<unreadable>";
}

TEST(ArtifactFolder, NamesEveryFileTheDocsList) {
  ArtifactFolder folder("/a", ArtifactFolder::Kind::fresh);
  EXPECT_EQ(folder.path(Artifact::console_log), "/a/console.log");
  EXPECT_EQ(ArtifactFolder::name(Artifact::debugcon), "debugcon.txt");
  EXPECT_EQ(ArtifactFolder::name(Artifact::trace_log), "trace.log");
  EXPECT_EQ(ArtifactFolder::name(Artifact::initrd_listing), "initrd.txt");
  EXPECT_EQ(ArtifactFolder::name(Artifact::qemu_cmdline), "qemu.cmdline");
  EXPECT_EQ(ArtifactFolder::name(Artifact::gdb_script), "gdb.script");
  EXPECT_EQ(ArtifactFolder::name(Artifact::faults), "faults.txt");
  EXPECT_EQ(ArtifactFolder::name(Artifact::kernel_log), "kernel.log");
  EXPECT_EQ(ArtifactFolder::name(Artifact::result), "result.json");
}

TEST(ArtifactFolder, AFreshFolderIsMadeAnewAndItsFilesAreNeverReplaced) {
  test::ScratchDir scratch;
  auto victim = scratch.write("victim", "precious\n");
  fs::path dir = scratch.path() / "s";
  scratch.write("s/faults.txt", "=== an old Oops\n");
  ArtifactFolder folder(dir, ArtifactFolder::Kind::fresh);
  ASSERT_TRUE(folder.create().ok());
  EXPECT_FALSE(fs::exists(dir / "faults.txt"));

  ASSERT_TRUE(folder.write(Artifact::kernel_log, "log\n").ok());
  EXPECT_EQ(contents(dir / "kernel.log"), "log\n");
  EXPECT_FALSE(folder.write(Artifact::kernel_log, "again\n").ok()); // O_EXCL
  fs::create_symlink(victim, dir / "result.json");
  EXPECT_FALSE(folder.write(Artifact::result, "{}").ok());
  fs::create_symlink(victim, dir / "console.log");
  EXPECT_FALSE(folder.open_for_append(Artifact::console_log).ok());
  EXPECT_EQ(contents(victim), "precious\n");
}

TEST(ArtifactFolder, AKeptFolderKeepsWhatIsThereAndReplacesLinksAtItsNames) {
  test::ScratchDir scratch;
  auto victim = scratch.write("victim", "precious\n");
  fs::path dir = scratch.path() / "mine";
  scratch.write("mine/notes.txt", "the user's\n");
  ArtifactFolder folder(dir, ArtifactFolder::Kind::kept);
  ASSERT_TRUE(folder.create().ok());
  EXPECT_EQ(contents(dir / "notes.txt"), "the user's\n");

  fs::create_symlink(victim, dir / "faults.txt");
  fs::create_symlink(victim, dir / "console.log");
  fs::create_symlink(victim, dir / "debugcon.txt");
  ASSERT_TRUE(folder.write(Artifact::faults, "=== Oops\n").ok());
  auto log = folder.open_for_append(Artifact::console_log);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(write_all(log->get(), "boot\n"), 0);
  folder.clear_for_qemu(Artifact::debugcon);

  EXPECT_EQ(contents(victim), "precious\n");
  EXPECT_FALSE(fs::is_symlink(dir / "faults.txt"));
  EXPECT_EQ(contents(dir / "faults.txt"), "=== Oops\n");
  EXPECT_FALSE(fs::is_symlink(dir / "console.log"));
  EXPECT_EQ(contents(dir / "console.log"), "boot\n");
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir / "debugcon.txt")));
}

TEST(ArtifactFolder, FilesGetTheUmasksMode) {
  test::ScratchDir scratch;
  ArtifactFolder folder(scratch.path() / "s", ArtifactFolder::Kind::fresh);
  ASSERT_TRUE(folder.create().ok());
  mode_t old = ::umask(027);
  auto written = folder.write(Artifact::qemu_cmdline, "qemu\n");
  auto log = folder.open_for_append(Artifact::console_log);
  ::umask(old);
  ASSERT_TRUE(written.ok());
  ASSERT_TRUE(log.ok());
  struct stat st {};
  ASSERT_EQ(::stat(folder.path(Artifact::qemu_cmdline).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  ASSERT_EQ(::stat(folder.path(Artifact::console_log).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

} // namespace
} // namespace labctl
