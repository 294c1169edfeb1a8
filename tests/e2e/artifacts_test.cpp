// What labctl writes, and where: the artifacts folder (fresh, never through a planted link,
// one run per root, the umask respected, a full disk named) and the --junit/--json reports
// (devices, FIFOs and symlinks kept; a report that cannot be written fails the run). Every
// test runs the real binary against the fake QEMU (tests/fake_qemu/fake-qemu).
#include "e2e_support.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <sys/mount.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace labctl::e2e {
namespace {

using namespace std::chrono_literals;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode;
}

std::string contents(const fs::path& p) {
  auto data = read_file(p);
  return data ? *data : "<unreadable>";
}

class Artifacts : public ::testing::Test {
protected:
  TempDir dir{"labctl-e2e-artifacts"};
  fs::path artifacts = dir.path() / "artifacts";
  fs::path cache = dir.path() / "cache";
  fs::path tmp = dir.path() / "tmp"; // labctl's TMPDIR: must be empty afterwards
  fs::path markers = dir.path() / "markers";
  fs::path fake_qemu = tests_dir() / "fake_qemu/fake-qemu";
  bool mounted = false;

  void SetUp() override {
    fs::create_directories(tmp);
    fs::create_directories(markers);
    fs::create_directories(dir.path() / "scratch");
  }

  void TearDown() override {
    if (mounted) {
      EXPECT_EQ(::umount2(artifacts.c_str(), MNT_DETACH), 0) << std::strerror(errno);
    }
    EXPECT_EQ(processes_using(dir.path().string()), 0) << "a process outlived the run";
    std::error_code ec;
    for (const auto& left : fs::directory_iterator(tmp, ec))
      ADD_FAILURE() << "left behind in TMPDIR: " << left.path();
  }

  // A small tmpfs at the artifacts root (tests run as root); unmounted in TearDown.
  void mount_small_artifacts(const std::string& options) {
    fs::create_directories(artifacts);
    ASSERT_EQ(::mount("tmpfs", artifacts.c_str(), "tmpfs", 0, options.c_str()), 0)
        << std::strerror(errno);
    mounted = true;
  }

  fs::path profile() {
    fs::create_directories(dir.path() / "kbuild");
    EXPECT_TRUE(write_file_atomic(dir.path() / "bzImage", "not a kernel").ok());
    auto p = dir.path() / "profile.json";
    EXPECT_TRUE(write_file_atomic(
                    p, fmt::format(R"({{"qemu": "{}", "kernel": {{"image": "bzImage", "build": )"
                                   R"("kbuild"}}, "boot": "bzimage", "accel": "tcg", )"
                                   R"("boot_timeout": 20}})",
                                   fake_qemu.string()))
                    .ok());
    return p;
  }
  fs::path scenario(const std::string& json) {
    auto p = dir.path() / "s.json";
    EXPECT_TRUE(write_file_atomic(p, json).ok());
    return p;
  }
  Env env(const std::string& mode = "ok") const {
    return {{"FAKE_QEMU_MODE", mode},
            {"FAKE_QEMU_MARKERS", markers.string()},
            {"LABCTL_CACHE_DIR", cache.string()},
            {"TMPDIR", tmp.string()},
            {"FAKE_QEMU_SCRATCH", (dir.path() / "scratch").string()}};
  }
  std::vector<std::string> args(const std::string& json, std::vector<std::string> more = {}) {
    std::vector<std::string> a = {"--profile", profile().string(), "run", "--artifacts",
                                  artifacts.string()};
    a.insert(a.end(), more.begin(), more.end());
    a.push_back(scenario(json).string());
    return a;
  }
  LabctlRun run(const std::string& json, std::vector<std::string> more = {},
                const std::string& mode = "ok") {
    return labctl(args(json, std::move(more)), env(mode), 240s);
  }
  fs::path out(const std::string& file) const { return artifacts / "s" / file; }
};

constexpr const char* k_one_step = R"({"steps": [{"run": "echo hi", "stdout": "hi"}]})";

// The scenario folder

TEST_F(Artifacts, PlantedSymlinksAndStaleFilesInTheScenarioFolderAreNeitherFollowedNorKept) {
  auto victim = dir.path() / "victim";
  ASSERT_TRUE(write_file_atomic(victim, "precious\n").ok());
  fs::create_directories(out(""));
  for (const char* name :
       {"console.log", "result.json", "debugcon.txt", "kernel.log", "qemu.cmdline", "initrd.txt"})
    fs::create_symlink(victim, out(name));
  ASSERT_TRUE(write_file_atomic(out("faults.txt"), "=== an old Oops\n").ok());
  fs::create_directories(out("trace.log") / "in-the-way");

  auto r = run(k_one_step);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(contents(victim), "precious\n") << "written through a planted link";
  EXPECT_FALSE(fs::exists(out("faults.txt"))) << "a stale faults.txt beside a passing run";
  EXPECT_FALSE(fs::exists(out("trace.log")));
  for (const char* name :
       {"console.log", "result.json", "kernel.log", "qemu.cmdline", "initrd.txt"})
    EXPECT_TRUE(S_ISREG(mode_of(out(name)))) << name;
  EXPECT_NE(contents(out("result.json")).find("\"passed\""), std::string::npos);
}

TEST_F(Artifacts, ASymlinkedScenarioFolderIsReplacedNotFollowed) {
  auto elsewhere = dir.path() / "elsewhere";
  fs::create_directories(elsewhere);
  ASSERT_TRUE(write_file_atomic(elsewhere / "console.log", "theirs\n").ok());
  fs::create_directories(artifacts);
  fs::create_symlink(elsewhere, artifacts / "s");

  auto r = run(k_one_step);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(fs::is_symlink(artifacts / "s"));
  EXPECT_TRUE(fs::exists(out("result.json")));
  EXPECT_EQ(contents(elsewhere / "console.log"), "theirs\n");
  EXPECT_FALSE(fs::exists(elsewhere / "result.json"));
}

TEST_F(Artifacts, ASecondRunOnTheSameRootIsRefusedNamingTheRootAndTheHolder) {
  auto first_args = args(R"({"steps": [{"run": "sleep 1000", "timeout": 60}]})");
  first_args.insert(first_args.begin(), LABCTL_BINARY);
  auto first = spawn({.argv = first_args,
                      .cwd = source_dir(),
                      .env = env("hang_step"),
                      .out = Stream::null,
                      .err = Stream::null});
  ASSERT_TRUE(first.ok()) << first.error().message;
  // The first run holds the root from before its first scenario until it exits.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!fs::exists(markers / "step") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(fs::exists(markers / "step"));

  auto second = run(k_one_step);
  EXPECT_EQ(second.exit_code, 3) << second.out << second.err;
  EXPECT_NE(second.err.find(fmt::format("artifacts folder {} is in use by another labctl run",
                                        artifacts.string())),
            std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find(fmt::format("pid {}", (*first)->pid())), std::string::npos)
      << second.err;
  EXPECT_FALSE(fs::exists(out("result.json"))) << "the second run wrote into the first's folder";

  (*first)->signal(SIGTERM);
  auto status = (*first)->wait_for(60s);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 130);
  // Released with its holder: the next run goes ahead.
  EXPECT_EQ(run(k_one_step).exit_code, 0);
}

TEST_F(Artifacts, UnderUmask077NeitherTheCachedInitrdNorTheArtifactsAreWorldReadable) {
  mode_t old = ::umask(077);
  auto r = run(k_one_step);
  ::umask(old);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  int cpio = 0;
  for (const auto& entry : fs::recursive_directory_iterator(cache)) {
    if (entry.path().extension() == ".cpio") {
      ++cpio;
      EXPECT_EQ(mode_of(entry.path()) & 077, 0u) << entry.path();
    }
  }
  EXPECT_EQ(cpio, 1) << "no cached initrd to check";
  EXPECT_EQ(mode_of(out("")) & 0777, 0700u);
  for (const auto& entry : fs::directory_iterator(out("")))
    EXPECT_EQ(mode_of(entry.path()) & 077, 0u) << entry.path();
}

// A full disk

TEST_F(Artifacts, AFullDiskIsAnEnvironmentErrorNamingTheFileNotADebugconDiff) {
  // Another writer fills the artifacts filesystem during the step; the guest's own
  // debugcon output then cannot be stored whole.
  mount_small_artifacts("size=2m");
  auto r = run(
      R"({"steps": [{"run": "head -c 4194304 /dev/zero > \"$(dirname \"$(dirname \"$FAKE_DEBUGCON\")\")/filler\" 2>/dev/null; printf 'hello\\n' >> \"$FAKE_DEBUGCON\"; true"}],
                  "expect": {"debugcon": {"text": "hello\n"}}})");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_EQ(r.out.find("debugcon output differs"), std::string::npos) << r.out;
  // The first artifact the full disk refused is named: kernel.log (which holds the fake
  // console's kernel lines) when it came first, else debugcon.txt.
  EXPECT_TRUE(
      r.out.find(out("debugcon.txt").string() + ": the filesystem is full") != std::string::npos ||
      r.out.find("cannot write " + out("kernel.log").string() + ": No space left on device") !=
          std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("cannot write " + out("result.json").string() + ": No space left on device"),
            std::string::npos)
      << "result.json missing without a word\n"
      << r.out;
}

TEST_F(Artifacts, ADebugconFileThatCannotBeCreatedIsAnEnvironmentErrorNamingIt) {
  // Inodes for the root, the lock file, the scenario folder, initrd.txt and console.log:
  // none left for QEMU's debugcon.txt.
  mount_small_artifacts("size=2m,nr_inodes=5");
  auto r = run(k_one_step);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  std::string all = r.out + r.err;
  EXPECT_NE(
      all.find("Could not open '" + out("debugcon.txt").string() + "': No space left on device"),
      std::string::npos)
      << all;
}

// --junit and --json

TEST_F(Artifacts, ReportsGoThroughDevicesAndSymlinksWithoutReplacingThem) {
  auto target = dir.path() / "reports/real.json";
  ASSERT_TRUE(write_file_atomic(target, "old").ok());
  fs::create_symlink(target, dir.path() / "report-link.json");
  auto r = run(k_one_step,
               {"--junit", "/dev/null", "--json", (dir.path() / "report-link.json").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(S_ISCHR(mode_of("/dev/null"))) << "/dev/null was replaced";
  EXPECT_TRUE(fs::is_symlink(dir.path() / "report-link.json"));
  EXPECT_NE(contents(target).find("\"scenarios\""), std::string::npos) << contents(target);

  auto to_stdout = run(k_one_step, {"--json", "/dev/stdout"});
  EXPECT_EQ(to_stdout.exit_code, 0) << to_stdout.out << to_stdout.err;
  auto report_at = to_stdout.out.find("\"scenarios\"");
  EXPECT_NE(report_at, std::string::npos) << to_stdout.out;
  EXPECT_LT(to_stdout.out.find("artifacts: "), report_at) << "the summary was overwritten";
  EXPECT_TRUE(fs::is_symlink("/dev/stdout"));
}

TEST_F(Artifacts, AReportThatCannotBeWrittenFailsTheRunWithExit3NamingIt) {
  fs::create_directories(dir.path() / "a-folder");
  auto r = run(k_one_step, {"--junit", (dir.path() / "a-folder").string()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("--junit report not written: cannot write " +
                       (dir.path() / "a-folder").string() + ": Is a directory"),
            std::string::npos)
      << r.err;

  ASSERT_TRUE(write_file_atomic(dir.path() / "a-file", "").ok());
  r = run(k_one_step, {"--json", (dir.path() / "a-file/r.json").string()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("--json report not written"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Not a directory"), std::string::npos) << r.err;

  r = run(k_one_step, {"--json", "/dev/full"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("--json report not written: cannot write /dev/full: No space left on "
                       "device"),
            std::string::npos)
      << r.err;
}

} // namespace
} // namespace labctl::e2e
