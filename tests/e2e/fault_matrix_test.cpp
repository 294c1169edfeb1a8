// The fault matrix (docs/faults.md) without booting a VM: each test provokes one fault
// through the fake QEMU (tests/fake_qemu/fake-qemu), the real QEMU failing at start, real
// kbuild or a broken cache, and checks what the user sees: the exit code, a message that
// names the cause, the artifacts kept, no process left and no temporary file left.
#include "e2e_support.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <ostream>
#include <poll.h>
#include <pty.h>
#include <regex>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <thread>
#include <unistd.h>

namespace labctl::e2e {
namespace {

using namespace std::chrono_literals;

// A labctl started in the background whose stdout and stderr are collected by a thread.
class Background {
public:
  explicit Background(std::unique_ptr<Process> process) : m_process(std::move(process)) {
    m_reader = std::thread([this] {
      int fds[2] = {m_process->stdout_fd(), m_process->stderr_fd()};
      std::string* sinks[2] = {&m_out, &m_err};
      while (fds[0] >= 0 || fds[1] >= 0) {
        pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        if (::poll(p, 2, 1000) < 0 && errno != EINTR)
          return;
        for (int i = 0; i < 2; ++i) {
          if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
          char buf[65536];
          ssize_t n = ::read(fds[i], buf, sizeof buf);
          if (n > 0)
            sinks[i]->append(buf, static_cast<size_t>(n));
          else if (n == 0 || errno != EINTR)
            fds[i] = -1;
        }
      }
    });
  }
  ~Background() {
    if (m_reader.joinable()) {
      m_process->signal(SIGKILL);
      m_process->wait();
      m_reader.join();
    }
  }
  pid_t pid() const { return m_process->pid(); }
  void signal(int sig) { ::kill(m_process->pid(), sig); }
  bool running() { return !m_process->try_wait(); }
  // The run's result once labctl exits within `timeout` (exit_code -1 if it did not).
  LabctlRun finish(std::chrono::seconds timeout) {
    auto status = m_process->wait_for(timeout);
    if (!status)
      return {};
    m_reader.join();
    return {status->code, m_out, m_err};
  }

private:
  std::unique_ptr<Process> m_process;
  std::thread m_reader;
  std::string m_out, m_err;
};

bool wait_for_file(const fs::path& path, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (fs::exists(path, ec))
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// The peak resident set size (VmHWM) of a running process in KiB, or 0 once it is gone.
long peak_rss_kib(pid_t pid) {
  auto status = read_file(fmt::format("/proc/{}/status", pid));
  if (!status)
    return 0;
  auto at = status->find("VmHWM:");
  return at == std::string::npos ? 0 : std::atol(status->c_str() + at + 6);
}

class Faults : public ::testing::Test {
protected:
  TempDir dir{"labctl-e2e-faults"};
  fs::path artifacts = dir.path() / "artifacts";
  fs::path cache = dir.path() / "cache";
  fs::path tmp = dir.path() / "tmp";         // labctl's TMPDIR: must be empty afterwards
  fs::path markers = dir.path() / "markers"; // where the fake QEMU reports its progress
  fs::path fake_qemu = tests_dir() / "fake_qemu/fake-qemu";

  void SetUp() override {
    fs::create_directories(tmp);
    fs::create_directories(markers);
    fs::create_directories(dir.path() / "scratch");
  }

  void TearDown() override {
    EXPECT_EQ(processes_using(dir.path().string()), 0) << "a process outlived the run";
    std::error_code ec;
    for (const auto& left : fs::directory_iterator(tmp, ec))
      ADD_FAILURE() << "left behind in TMPDIR: " << left.path();
  }

  // A profile booting the fake QEMU with a fake kernel; `extra` adds or overrides keys.
  fs::path profile(const std::string& extra = "", int boot_timeout = 20) {
    fs::create_directories(dir.path() / "kbuild");
    EXPECT_TRUE(write_file_atomic(dir.path() / "bzImage", "not a kernel").ok());
    auto p = dir.path() / "profile.json";
    std::string qemu = extra.find("\"qemu\"") == std::string::npos
                           ? fmt::format(R"("qemu": "{}", )", fake_qemu.string())
                           : "";
    std::string kernel = extra.find("\"kernel\"") == std::string::npos
                             ? R"("kernel": {"image": "bzImage", "build": "kbuild"}, )"
                             : "";
    std::string boot = extra.find("\"boot\"") == std::string::npos ? R"("boot": "bzimage", )" : "";
    EXPECT_TRUE(write_file_atomic(
                    p, fmt::format(R"({{{}{}{}"accel": "tcg", "boot_timeout": {}{}}})", qemu,
                                   kernel, boot, boot_timeout, extra.empty() ? "" : ", " + extra))
                    .ok());
    return p;
  }
  fs::path scenario(const std::string& json, const std::string& name = "s.json") {
    auto p = dir.path() / name;
    EXPECT_TRUE(write_file_atomic(p, json).ok());
    return p;
  }
  Env env(const std::string& mode, Env extra = {}) const {
    extra.emplace_back("FAKE_QEMU_MODE", mode);
    extra.emplace_back("FAKE_QEMU_MARKERS", markers.string());
    extra.emplace_back("LABCTL_CACHE_DIR", cache.string());
    extra.emplace_back("TMPDIR", tmp.string());
    extra.emplace_back("FAKE_QEMU_SCRATCH", (dir.path() / "scratch").string());
    return extra;
  }
  std::vector<std::string> run_args(const fs::path& profile_file, const fs::path& scenario_file,
                                    std::vector<std::string> more = {}) const {
    std::vector<std::string> args = {"--profile", profile_file.string(), "run", "--artifacts",
                                     artifacts.string()};
    args.insert(args.end(), more.begin(), more.end());
    args.push_back(scenario_file.string());
    return args;
  }
  LabctlRun run(const std::string& mode, const std::string& scenario_json, Env extra = {},
                const std::string& profile_extra = "") {
    return labctl(run_args(profile(profile_extra), scenario(scenario_json)), env(mode, extra),
                  240s);
  }
  std::unique_ptr<Background> start(const std::string& mode, const std::string& scenario_json,
                                    Env extra = {}, const std::string& profile_extra = "") {
    auto args = run_args(profile(profile_extra), scenario(scenario_json));
    args.insert(args.begin(), LABCTL_BINARY);
    auto child = spawn({.argv = args, .cwd = source_dir(), .env = env(mode, extra)});
    EXPECT_TRUE(child.ok());
    return child ? std::make_unique<Background>(std::move(*child)) : nullptr;
  }
  fs::path out(const std::string& file) const { return artifacts / "s" / file; }
  bool kept(const std::string& file) const {
    std::error_code ec;
    return fs::exists(out(file), ec);
  }
};

constexpr const char* k_one_step = R"({"steps": [{"run": "echo hi", "stdout": "hi"}]})";
constexpr const char* k_hanging_step = R"({"steps": [{"run": "sleep 1000", "timeout": 60}]})";

// QEMU itself

TEST_F(Faults, QemuBinaryMissingIsEnvironmentError) {
  auto r = run("ok", k_one_step, {}, R"("qemu": "/nonexistent/qemu-system-x86_64")");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("/nonexistent/qemu-system-x86_64 not found"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("apt-get install qemu-system-x86"), std::string::npos) << r.err;
}

TEST_F(Faults, QemuKilledMidStepFailsThatStepNamingTheSignal) {
  auto lab = start("hang_step", k_hanging_step);
  ASSERT_TRUE(wait_for_file(markers / "step", 60s));
  auto pids = pids_using(dir.path().string(), "fake-qemu");
  ASSERT_EQ(pids.size(), 1u);
  ::kill(pids[0], SIGKILL);
  auto r = lab->finish(60s);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("QEMU exited (killed by signal 9"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sleep 1000"), std::string::npos) << r.out;
  EXPECT_TRUE(kept("console.log") && kept("result.json"));
}

TEST_F(Faults, ConsoleClosedByQemuStillRunsAndJudgesTheSteps) {
  auto r = run("close_stdout", R"({"steps": [{"run": "echo a", "stdout": "a"},
                                            {"run": "echo b", "stdout": "b"}]})");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
  EXPECT_TRUE(kept("console.log"));
}

TEST_F(Faults, KernelImageQemuCannotLoadIsEnvironmentError) {
  // The real QEMU, handed a file that is not a kernel: it fails before the guest runs.
  auto r = run("ok", k_one_step, {}, R"("qemu": "qemu-system-x86_64")");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("QEMU could not start the guest (exit code 1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("linux kernel too old to load a ram disk"), std::string::npos)
      << "QEMU's own words\n"
      << r.out;
  EXPECT_TRUE(kept("qemu.cmdline"));
}

// Boot

TEST_F(Faults, RebootDuringBootIsNamedAsAReboot) {
  auto r = run("reboot_boot", k_one_step);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("the guest rebooted, which ends QEMU under -no-reboot (exit code 0) "
                       "during boot"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("reboot: Restarting system"), std::string::npos) << r.out;
  EXPECT_TRUE(kept("console.log") && kept("result.json"));
}

TEST_F(Faults, RebootDuringAStepFailsThatStep) {
  auto r = run("reboot_step", R"({"steps": [{"run": "reboot -f"}]})");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("step 1 at"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the guest rebooted, which ends QEMU under -no-reboot (exit code 0) while "
                       "the step ran"),
            std::string::npos)
      << r.out;
}

TEST_F(Faults, OopsWhileInitLoadsModulesIsAttributedToBoot) {
  auto r = run("fault_boot", k_one_step);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("kernel oops during boot: BUG: kernel NULL pointer dereference"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(kept("faults.txt"));
}

// Kernel faults in a step

TEST_F(Faults, WarningInAStepFailsTheScenarioThoughTheStepPassed) {
  auto r = run("fault_step", k_one_step,
               {{"FAKE_QEMU_OOPS", (tests_dir() / "data/console/warning.log").string()}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("kernel fault (warning): WARNING: CPU: 0 PID: 84 at"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("during step 1 (`echo hi`, " + (dir.path() / "s.json").string() + ":1)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("step 1 at"), std::string::npos) << "the step itself passed\n" << r.out;
}

TEST_F(Faults, ExpectedWarningPasses) {
  auto r =
      run("fault_step",
          R"({"steps": [{"run": "echo hi", "stdout": "hi"}], "expect": {"faults": ["warning"]}})",
          {{"FAKE_QEMU_OOPS", (tests_dir() / "data/console/warning.log").string()}});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(Faults, BugInAStepIsReportedWithItsLocation) {
  auto r = run("fault_step", k_one_step,
               {{"FAKE_QEMU_OOPS", (tests_dir() / "data/console/bug.log").string()}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("kernel fault (bug): kernel BUG at"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("labctl_fault.c:88!"), std::string::npos) << r.out;
}

TEST_F(Faults, SoftLockupInAStepIsReported) {
  auto r = run("fault_step", k_one_step,
               {{"FAKE_QEMU_OOPS", (tests_dir() / "data/console/soft_lockup.log").string()}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("kernel fault (soft_lockup): watchdog: BUG: soft lockup - CPU#0 stuck"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("kernel fault (rcu_stall)"), std::string::npos) << r.out;
}

TEST_F(Faults, PrintkFloodDuringAStepLeavesItsAnswerExact) {
  auto r = run("fault_step", R"({"steps": [{"run": "printf 'a\\nb'", "stdout": "a\nb"}]})",
               {{"FAKE_QEMU_OOPS", (tests_dir() / "data/console/printk_flood.log").string()}});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto console = read_file(out("console.log"));
  ASSERT_TRUE(console.ok());
  EXPECT_NE(console->find("flood line 2000 of 2000"), std::string::npos);
}

// Step output

TEST_F(Faults, TenMebibytesOfOutputComeBackExactly) {
  std::string ten_mib(10 << 20, 'x');
  auto r =
      run("ok", R"({"steps": [{"run": "head -c 10485760 /dev/zero | tr '\\0' x", "stdout": ")" +
                    ten_mib + R"("}]})");
  EXPECT_EQ(r.exit_code, 0) << r.out.substr(0, 2000) << r.err;
}

TEST_F(Faults, OutputBeyondTheProtocolLimitFailsNamingTheLimit) {
  auto r = run("ok", R"({"steps": [{"run": "head -c 52428800 /dev/zero"}]})");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("output exceeds 67108864 bytes"), std::string::npos) << r.out;
}

TEST_F(Faults, StepKilledBySignalIsReportedAsThatSignal) {
  auto r = run("ok", R"({"steps": [{"run": "kill -SEGV $$"}]})");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("exit code: expected 0, got 139 (killed by SIGSEGV)"), std::string::npos)
      << r.out;
  r = run("ok", R"({"steps": [{"run": "kill -KILL $$"}]})");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("got 137 (killed by SIGKILL)"), std::string::npos) << r.out;
}

// debugcon

TEST_F(Faults, TenMebibytesOnDebugconAreComparedWithABoundedDiff) {
  auto r = run(
      "ok", R"({"steps": [{"run": "yes 0123456789abcdef | head -c 10485760 >> \"$FAKE_DEBUGCON\""}],
                         "expect": {"debugcon": {"text": "hello\n"}}})");
  EXPECT_EQ(r.exit_code, 1) << r.out.substr(0, 4000) << r.err;
  EXPECT_NE(r.out.find("debugcon output differs from"), std::string::npos) << r.out.substr(0, 4000);
  EXPECT_NE(r.out.find("first difference at byte 0"), std::string::npos) << r.out.substr(0, 4000);
  EXPECT_LT(r.out.size(), 64u * 1024) << "the diff is bounded";
  std::error_code ec;
  EXPECT_EQ(fs::file_size(out("debugcon.txt"), ec), 10u << 20);
}

TEST_F(Faults, DebugconBeyondWhatLabctlComparesFailsNamingTheLimit) {
  auto r = run("ok", R"({"steps": [{"run": "head -c 68157440 /dev/zero >> \"$FAKE_DEBUGCON\""}],
                         "expect": {"debugcon": {"text": "hello\n"}}})");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("debugcon.txt holds 65 MiB, more than the 64 MiB labctl compares"),
            std::string::npos)
      << r.out;
}

TEST_F(Faults, FaultStormKeepsTheFirstReportsAndSaysMoreFollowed) {
  std::string storm;
  for (int i = 0; i < 100; ++i)
    storm += fmt::format("[    1.{:06}] WARNING: CPU: 0 PID: 1 at x.c:{} f+0x0/0x10\r\n"
                         "[    1.{:06}] ---[ end trace 0000000000000000 ]---\r\n",
                         i, i, i);
  ASSERT_TRUE(write_file_atomic(dir.path() / "storm.log", storm).ok());
  auto r = run("fault_step", k_one_step, {{"FAKE_QEMU_OOPS", (dir.path() / "storm.log").string()}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("more kernel fault reports followed the first 64"), std::string::npos)
      << r.out;
  auto result = read_file(out("result.json"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(Json::parse(*result)["scenarios"][0]["faults"].size(), 64u);
}

// Signals

struct SignalCase {
  int signal;
  const char* mode;
  const char* marker; // the fake QEMU's marker to wait for
};
void PrintTo(const SignalCase& c, std::ostream* os) {
  *os << sigabbrev_np(c.signal) << " " << c.mode;
}

class FaultsSignal : public Faults, public ::testing::WithParamInterface<SignalCase> {};

TEST_P(FaultsSignal, InterruptsWithExit130KeepsArtifactsAndLeavesNoQemu) {
  const auto& c = GetParam();
  auto lab = start(c.mode, k_hanging_step);
  ASSERT_TRUE(wait_for_file(markers / c.marker, 60s)) << c.marker;
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(processes_using(dir.path().string(), "fake-qemu"), 1);
  lab->signal(c.signal);
  auto r = lab->finish(60s);
  EXPECT_EQ(r.exit_code, 130) << strsignal(c.signal) << "\n" << r.out << r.err;
  EXPECT_NE(r.out.find("interrupted"), std::string::npos) << r.out;
  EXPECT_TRUE(kept("console.log") && kept("qemu.cmdline") && kept("result.json"));
  auto result = read_file(out("result.json"));
  ASSERT_TRUE(result.ok());
  EXPECT_NE(result->find("\"exit_code\": 130"), std::string::npos) << *result;
}

INSTANTIATE_TEST_SUITE_P(MidStepAndMidBoot, FaultsSignal,
                         ::testing::Values(SignalCase{SIGTERM, "hang_step", "step"},
                                           SignalCase{SIGHUP, "hang_step", "step"},
                                           SignalCase{SIGINT, "hang_step", "step"},
                                           SignalCase{SIGTERM, "hang_boot", "booting"},
                                           SignalCase{SIGHUP, "hang_boot", "booting"}),
                         [](const auto& info) {
                           return fmt::format("{}_{}", sigabbrev_np(info.param.signal),
                                              info.param.mode);
                         });

TEST_F(Faults, SigtermTearsDownEvenAQemuThatIgnoresQuitAndSigterm) {
  auto lab = start("hang_step", k_hanging_step, {{"FAKE_QEMU_STUBBORN", "1"}});
  ASSERT_TRUE(wait_for_file(markers / "step", 60s));
  lab->signal(SIGTERM);
  auto r = lab->finish(60s);
  EXPECT_EQ(r.exit_code, 130) << r.out << r.err;
  EXPECT_EQ(processes_using(dir.path().string(), "fake-qemu"), 0);
}

TEST_F(Faults, SigtermOnATerminalLeavesItAsItWas) {
  auto profile_file = profile();
  auto scenario_file = scenario(k_hanging_step);
  int master = -1, slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0) << std::strerror(errno);
  termios before{};
  ASSERT_EQ(::tcgetattr(slave, &before), 0);
  auto args = run_args(profile_file, scenario_file);
  args.insert(args.begin(), LABCTL_BINARY);
  auto environment = env("hang_step");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setsid();
    ::ioctl(slave, TIOCSCTTY, 0);
    for (int fd : {0, 1, 2})
      ::dup2(slave, fd);
    ::close(master);
    if (::chdir(source_dir().c_str()) != 0)
      ::_exit(127);
    for (const auto& [k, v] : environment)
      ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  std::string output;
  std::thread reader([&] {
    char buf[4096];
    for (ssize_t n; (n = ::read(master, buf, sizeof buf)) > 0;)
      output.append(buf, static_cast<size_t>(n));
  });
  bool stepped = wait_for_file(markers / "step", 60s);
  std::this_thread::sleep_for(300ms);
  ::kill(pid, SIGTERM);
  int raw = 0;
  ::waitpid(pid, &raw, 0);
  termios after{};
  ASSERT_EQ(::tcgetattr(slave, &after), 0);
  ::close(slave); // the reader sees EIO once no one holds the terminal
  reader.join();
  ::close(master);
  ASSERT_TRUE(stepped) << output;
  EXPECT_TRUE(WIFEXITED(raw) && WEXITSTATUS(raw) == 130) << output;
  EXPECT_EQ(before.c_iflag, after.c_iflag);
  EXPECT_EQ(before.c_oflag, after.c_oflag);
  EXPECT_EQ(before.c_lflag, after.c_lflag);
  EXPECT_EQ(before.c_cflag, after.c_cflag);
  EXPECT_EQ(std::memcmp(before.c_cc, after.c_cc, sizeof before.c_cc), 0);
  // The progress line was in use, and was cleared before the last lines.
  EXPECT_NE(output.find("[1/1] s: step 1/1"), std::string::npos) << output;
  auto cleared = output.rfind("\r\033[K");
  ASSERT_NE(cleared, std::string::npos) << output;
  EXPECT_EQ(output.find("[1/1]", cleared), std::string::npos) << output;
  EXPECT_TRUE(output.ends_with(artifacts.string() + "\r\n")) << output;
}

// Memory

TEST_F(Faults, ConsoleFloodKeepsMemoryBoundedAndFailsAtTheDocumentedLimit) {
  // Under ASan, freed memory waits in a quarantine (256 MiB by default) before it is
  // reused; a small one makes the peak show what labctl holds, not what ASan delays.
  const char* asan = std::getenv("ASAN_OPTIONS");
  Env small_quarantine = {
      {"ASAN_OPTIONS", std::string(asan ? asan : "") + ":quarantine_size_mb=1"}};
  auto peak_of = [&](const char* flood_mib) {
    Env extra = small_quarantine;
    extra.emplace_back("FAKE_QEMU_FLOOD_MIB", flood_mib);
    auto lab = start("flood_step", k_one_step, extra);
    long peak = 0;
    while (lab->running()) {
      peak = std::max(peak, peak_rss_kib(lab->pid()));
      std::this_thread::sleep_for(20ms);
    }
    return std::make_pair(peak, lab->finish(240s));
  };
  // The same run with a console of 1 MiB is the baseline: what labctl needs anyway (an
  // instrumented build needs several times more). A labctl that held on to the flood
  // would grow by at least the 64 MiB it keeps on disk.
  auto [baseline, quiet] = peak_of("1");
  EXPECT_EQ(quiet.exit_code, 0) << quiet.out << quiet.err;
  auto [peak, r] = peak_of("200");
  RecordProperty("labctl_peak_rss_kib", std::to_string(peak));
  std::printf("labctl peak RSS (VmHWM): %ld KiB with a 1 MiB console, %ld KiB during a 200 MiB "
              "console flood\n",
              baseline, peak);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // A loaded machine may end the step at its timeout before all 200 MiB are out; what
  // matters is that more than the limit came and was counted.
  std::smatch printed;
  ASSERT_TRUE(std::regex_search(r.out, printed, std::regex("the console printed ([0-9]+) MiB")))
      << r.out;
  EXPECT_GT(std::stoi(printed[1].str()), 64) << r.out;
  EXPECT_NE(r.out.find("more than the 64 MiB labctl keeps"), std::string::npos) << r.out;
  std::error_code ec;
  auto logged = fs::file_size(out("console.log"), ec);
  EXPECT_GE(logged, 64u << 20);
  EXPECT_LT(logged, (64u << 20) + 4096);
  EXPECT_GT(baseline, 0);
  EXPECT_LT(peak - baseline, 32 * 1024) << "labctl held on to the flood";
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_LT(peak, 100 * 1024) << "labctl held on to the flood";
#endif
}

// Input

struct BadInput {
  const char* name;
  const char* json;
  const char* fragment;
};
void PrintTo(const BadInput& c, std::ostream* os) {
  *os << c.json;
}

class FaultsBadInput : public Faults, public ::testing::WithParamInterface<BadInput> {};

TEST_P(FaultsBadInput, IsRejectedWithExit2BeforeAnythingBoots) {
  const auto& c = GetParam();
  scenario("hello\n", "host-file");
  auto r = run("ok", c.json);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find(c.fragment), std::string::npos) << r.out << r.err;
  EXPECT_EQ(processes_using(dir.path().string(), "fake-qemu"), 0);
  EXPECT_FALSE(kept("console.log")) << "QEMU was started";
}

INSTANTIATE_TEST_SUITE_P(
    Scenario, FaultsBadInput,
    ::testing::Values(
        BadInput{"MalformedJson", R"({"steps": [})", "s.json:1:12: invalid JSON"},
        BadInput{"NumberOutOfRange", R"({"timeout": 1e999})", "invalid JSON: number overflow"},
        BadInput{
            "NestedTooDeep",
            R"({"steps": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})",
            "nested deeper than 64 levels"},
        BadInput{"WrongType", R"({"steps": [{"run": 5}]})",
                 "key 'run': expected a string, got number"},
        BadInput{"UnknownKey", R"({"stpes": []})", "key 'stpes': unknown key"},
        BadInput{"MissingModuleFolder", R"({"modules": ["nope"]})", "module folder"},
        BadInput{"MissingHostFile", R"({"files": {"/x": "nope"}})", "source for '/x' not found"},
        BadInput{"DotDotInGuestPath", R"({"files": {"/a/../etc/passwd": "host-file"}})",
                 "must not contain .."},
        BadInput{"GuestPathBelowASymlink", R"({"files": {"/bin/sh/x": "host-file"}})",
                 "/bin/sh is a symlink, not a directory"},
        BadInput{"CpioTrailerAsGuestPath", R"({"files": {"/TRAILER!!!": "host-file"}})",
                 "the archive name TRAILER!!! marks the end of a cpio archive"},
        BadInput{"HostSymlinkToAFolder", R"({"files": {"/x": "/etc"}})", "is not a file"},
        BadInput{"DotComponentInGuestPath", R"({"files": {"/a/./b": "host-file"}})",
                 R"(s.json:1: key 'files': invalid initrd path "/a/./b": "." component)"},
        BadInput{"EmptyComponentInGuestPath", R"({"files": {"/a//b": "host-file"}})",
                 R"(s.json:1: key 'files': invalid initrd path "/a//b": empty component)"},
        BadInput{"FileReplacingInit", R"({"files": {"/init": "host-file"}})",
                 "s.json:1: key 'files': guest path '/init' is reserved"},
        BadInput{"FileReplacingTheAgent", R"({"files": {"/lib/labctl/agent.sh": "host-file"}})",
                 "s.json:1: key 'files': guest path '/lib/labctl/agent.sh' is reserved"},
        BadInput{"FileInTheAgentsRunFolder", R"({"files": {"/run/labctl/x": "host-file"}})",
                 "s.json:1: key 'files': guest path '/run/labctl/x' is reserved"},
        BadInput{"UnterminatedQuoteInParams",
                 R"({"modules": [{"path": ")" LABCTL_TESTS_DIR
                 R"(/kmod/broken", "params": "a='x"}]})",
                 "s.json:1: key 'params': unterminated ' in module params"},
        BadInput{"KeyGivenTwice", "{\"steps\": [{\"run\": \"true\"}],\n \"steps\": []}",
                 "s.json:2: key 'steps' given twice (first on line 1)"}),
    [](const auto& info) { return std::string(info.param.name); });

// A 600 MiB files entry in a 256M guest: the kernel would print "Initramfs unpacking
// failed" and then panic with "VFS: Unable to mount root fs". Refused before QEMU starts.
TEST_F(Faults, InitrdLargerThanTheGuestCanUnpackIsRefusedBeforeBooting) {
  fs::path big = dir.path() / "big";
  ASSERT_TRUE(write_file_atomic(big, "").ok());
  fs::resize_file(big, 600ull << 20); // sparse: nothing is written
  auto r = run("ok", R"({"files": {"/big": "big"}, "steps": [{"run": "true"}]})", {},
               R"("memory": "256M")");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("the initrd would unpack to"), std::string::npos)
      << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("files entry '/big', 600 MiB"), std::string::npos)
      << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("the profile's memory \"256M\""), std::string::npos)
      << r.out << r.err;
  EXPECT_EQ(processes_using(dir.path().string(), "fake-qemu"), 0);
  EXPECT_FALSE(kept("console.log")) << "QEMU was started";
  EXPECT_FALSE(fs::exists(cache / "initrd") && !fs::is_empty(cache / "initrd")) << "it was packed";
}

// QEMU runs as root: a profile may not make it listen (a monitor on TCP is a root shell for
// every local user).
TEST_F(Faults, ProfileQemuArgsThatListenAreBadInputBeforeAnythingBoots) {
  auto r = run("ok", k_one_step, {},
               R"("qemu_args": ["-monitor", "tcp:127.0.0.1:4444,server=on,wait=off"])");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("profile.json:1: key 'qemu_args': \"-monitor\""),
            std::string::npos)
      << r.out << r.err;
  EXPECT_EQ(processes_using(dir.path().string(), "fake-qemu"), 0);
  EXPECT_FALSE(kept("console.log")) << "QEMU was started";
}

// -j 0 is the default spelled out: one VM per CPU. A negative count is bad input.
TEST_F(Faults, JobsZeroMeansOnePerCpuAndNegativeJobsAreBadInput) {
  auto profile_file = profile();
  auto second = scenario(k_one_step, "b.json");
  auto zero =
      labctl(run_args(profile_file, scenario(k_one_step, "a.json"), {"-j", "0", second.string()}),
             env("ok"), 240s);
  EXPECT_EQ(zero.exit_code, 0) << zero.out << zero.err;
  EXPECT_NE(zero.out.find("2 passed, 0 failed"), std::string::npos) << zero.out;

  auto negative =
      labctl(run_args(profile_file, scenario(k_one_step), {"-j", "-3"}), env("ok"), 60s);
  EXPECT_EQ(negative.exit_code, 2) << negative.out << negative.err;
  EXPECT_NE(negative.err.find("--jobs -3: must be 0 (one VM per CPU, the default) or more"),
            std::string::npos)
      << negative.err;
  EXPECT_FALSE(kept("console.log")) << "QEMU was started";
}

TEST_F(Faults, ScenarioNamedDotDotStaysInsideTheArtifactsRoot) {
  auto r = labctl(run_args(profile(), scenario(k_one_step, "...json")), env("ok"), 120s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(artifacts / "...json" / "console.log"));
  EXPECT_FALSE(fs::exists(dir.path() / "console.log")) << "written outside the artifacts root";
}

// Modules and the cache (real kbuild against the installed headers, fake QEMU)

constexpr const char* k_auto_kernel = R"("kernel": "auto", "boot": "auto")";

TEST_F(Faults, ModuleThatDoesNotCompileFailsBeforeBooting) {
  auto r = run("ok",
               fmt::format(R"({{"modules": ["{}"], "steps": [{{"run": "true"}}]}})",
                           (tests_dir() / "kmod/broken").string()),
               {}, R"("kernel": "auto")");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("did not compile"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find((tests_dir() / "kmod/broken/broken.c").string() + ":12:"), std::string::npos)
      << r.out;
  EXPECT_FALSE(kept("console.log")) << "QEMU was started";
}

TEST_F(Faults, ModuleThatFailsToLoadShowsInsmodsWords) {
  auto r = run("module_fail", k_one_step,
               {{"FAKE_QEMU_INSMOD_ERROR",
                 "insmod: can't insert '/lib/labctl/modules/x.ko': invalid parameters"}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("module x failed to load: insmod: can't insert "
                       "'/lib/labctl/modules/x.ko': invalid parameters"),
            std::string::npos)
      << r.out;
}

TEST_F(Faults, TwoRunsInParallelShareAFreshCache) {
  auto json =
      fmt::format(R"({{"modules": ["{}"], "steps": [{{"run": "echo hi", "stdout": "hi"}}]}})",
                  (source_dir() / "kmod/debugcon").string());
  auto profile_file = profile(k_auto_kernel);
  auto scenario_file = scenario(json);
  std::vector<std::unique_ptr<Background>> runs;
  for (const char* name : {"one", "two"}) {
    std::vector<std::string> args = {LABCTL_BINARY,         "--profile",
                                     profile_file.string(), "run",
                                     "--artifacts",         (artifacts / name).string(),
                                     scenario_file.string()};
    auto child = spawn({.argv = args, .cwd = source_dir(), .env = env("ok")});
    ASSERT_TRUE(child.ok());
    runs.push_back(std::make_unique<Background>(std::move(*child)));
  }
  for (auto& run : runs) {
    auto r = run->finish(600s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  // A third run finds everything in the cache, intact.
  auto again = labctl({"-v", "--profile", profile_file.string(), "run", "--artifacts",
                       (artifacts / "three").string(), scenario_file.string()},
                      env("ok"), 600s);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(again.err.find("spawn: make"), std::string::npos) << again.err;
  EXPECT_EQ(again.err.find("packing it again"), std::string::npos) << again.err;
  EXPECT_EQ(again.err.find("PVH ELF to"), std::string::npos) << "extracted again\n" << again.err;
}

TEST_F(Faults, TruncatedCacheEntriesAreDetectedAndRebuilt) {
  auto json =
      fmt::format(R"({{"modules": ["{}"], "steps": [{{"run": "echo hi", "stdout": "hi"}}]}})",
                  (source_dir() / "kmod/debugcon").string());
  auto first = run("ok", json, {}, k_auto_kernel);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  auto cached = [&](const std::string& extension) {
    std::vector<fs::path> found;
    for (const auto& entry : fs::recursive_directory_iterator(cache))
      if (entry.is_regular_file() && entry.path().extension() == extension)
        found.push_back(entry.path());
    EXPECT_EQ(found.size(), 1u) << extension;
    return found.empty() ? fs::path() : found[0];
  };
  auto again = [&] {
    return labctl({"-v", "--profile", (dir.path() / "profile.json").string(), "run", "--artifacts",
                   artifacts.string(), (dir.path() / "s.json").string()},
                  env("ok"), 600s);
  };
  // The initrd and the extracted kernel, cut in half, are made again byte for byte.
  auto initrd = cached(".cpio"), kernel = cached(".elf");
  auto initrd_size = fs::file_size(initrd), kernel_size = fs::file_size(kernel);
  fs::resize_file(initrd, initrd_size / 2);
  fs::resize_file(kernel, kernel_size / 2);
  auto second = again();
  EXPECT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.err.find("packing it again"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("extracting again"), std::string::npos) << second.err;
  EXPECT_EQ(fs::file_size(initrd), initrd_size);
  EXPECT_EQ(fs::file_size(kernel), kernel_size);
  // The module, cut in half, is built again.
  auto ko = cached(".ko");
  auto ko_size = fs::file_size(ko);
  fs::resize_file(ko, ko_size / 2);
  auto third = again();
  EXPECT_EQ(third.exit_code, 0) << third.out << third.err;
  EXPECT_NE(third.err.find("truncated or changed; building again"), std::string::npos) << third.err;
  EXPECT_NE(third.err.find("spawn: make"), std::string::npos) << third.err;
  EXPECT_GT(fs::file_size(ko), ko_size / 2) << "not rebuilt";
}

TEST_F(Faults, CacheDirThatCannotBeCreatedIsEnvironmentError) {
  ASSERT_TRUE(write_file_atomic(dir.path() / "a-file", "").ok());
  auto r = labctl(run_args(profile(), scenario(k_one_step)),
                  {{"LABCTL_CACHE_DIR", (dir.path() / "a-file/cache").string()},
                   {"TMPDIR", tmp.string()},
                   {"FAKE_QEMU_MODE", "ok"}},
                  120s);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find((dir.path() / "a-file/cache").string()), std::string::npos)
      << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("Not a directory"), std::string::npos) << r.out << r.err;
}

} // namespace
} // namespace labctl::e2e
