// `labctl shell` end to end: a pseudo-terminal drives an interactive session (typing,
// Ctrl-C, window size, Ctrl-A x), and scripted input drives it through a pipe. The same
// terminal drives `labctl run --shell-on-failure`, the shell in a failed guest.
#include "e2e_support.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <thread>
#include <unistd.h>

namespace labctl::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// labctl running on its own pseudo-terminal, as if a user had started it in a terminal
// window. The test keeps the terminal's slave side open, so its modes can be read after
// labctl exits.
class PtyLabctl {
public:
  explicit PtyLabctl(std::vector<std::string> args) {
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 120;
    if (::openpty(&m_master, &m_slave, nullptr, nullptr, &ws) != 0)
      throw std::runtime_error(std::string("openpty: ") + std::strerror(errno));
    ::tcgetattr(m_slave, &m_initial);
    args.insert(args.begin(), LABCTL_BINARY);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string cwd = source_dir().string();
    m_pid = ::fork();
    if (m_pid == 0) {
      ::setsid();
      ::ioctl(m_slave, TIOCSCTTY, 0);
      ::dup2(m_slave, 0);
      ::dup2(m_slave, 1);
      ::dup2(m_slave, 2);
      ::close(m_master);
      if (m_slave > 2)
        ::close(m_slave);
      if (::chdir(cwd.c_str()) != 0)
        ::_exit(126);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::fcntl(m_master, F_SETFL, ::fcntl(m_master, F_GETFL) | O_NONBLOCK);
  }

  ~PtyLabctl() {
    if (m_pid > 0 && !m_status) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
    ::close(m_master);
    ::close(m_slave);
  }

  void type(std::string_view keys) {
    [[maybe_unused]] auto n = ::write(m_master, keys.data(), keys.size());
  }

  // Read the terminal until its output since `from` contains `needle`.
  bool expect(const std::string& needle, std::chrono::seconds timeout, size_t from = 0) {
    auto deadline = Clock::now() + timeout;
    while (m_output.find(needle, from) == std::string::npos) {
      if (Clock::now() >= deadline)
        return false;
      pump(100ms);
    }
    return true;
  }

  // The exit code, once labctl ended within `timeout`.
  std::optional<int> wait(std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!m_status && Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid)
        m_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      else
        pump(100ms);
    }
    pump(0ms);
    return m_status;
  }

  void resize(unsigned short rows, unsigned short cols) {
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = cols;
    ::ioctl(m_master, TIOCSWINSZ, &ws); // the kernel sends SIGWINCH to labctl
  }

  pid_t pid() const { return m_pid; }
  const std::string& output() const { return m_output; }
  size_t mark() const { return m_output.size(); }

  // The terminal modes now are the ones it had before labctl started.
  bool modes_restored() const {
    termios now{};
    ::tcgetattr(m_slave, &now);
    return now.c_iflag == m_initial.c_iflag && now.c_oflag == m_initial.c_oflag &&
           now.c_cflag == m_initial.c_cflag && now.c_lflag == m_initial.c_lflag &&
           std::memcmp(now.c_cc, m_initial.c_cc, sizeof now.c_cc) == 0;
  }

private:
  void pump(std::chrono::milliseconds wait) {
    pollfd p{m_master, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0)
      return;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(m_master, buf, sizeof buf);
      if (n <= 0)
        return;
      m_output.append(buf, static_cast<size_t>(n));
    }
  }

  int m_master = -1;
  int m_slave = -1;
  termios m_initial{};
  pid_t m_pid = -1;
  std::optional<int> m_status;
  std::string m_output;
};

class Shell : public ::testing::Test {
protected:
  TempDir artifacts{"labctl-e2e-shell"};
  void TearDown() override {
    EXPECT_EQ(qemu_processes_using(artifacts.path().string()), 0)
        << "a QEMU process outlived the shell";
  }
};

TEST_F(Shell, InteractiveOnATerminal) {
  PtyLabctl labctl(
      {"shell", "--artifacts", artifacts.path().string(), "scenarios/qemu_exercise.json"});
  ASSERT_TRUE(labctl.expect("console of the guest", 300s)) << labctl.output();
  ASSERT_TRUE(labctl.expect("/ # ", 120s, labctl.output().find("console of the guest")))
      << labctl.output();

  size_t at = labctl.mark();
  labctl.type("cat /dev/qemu_exercise\r");
  EXPECT_TRUE(labctl.expect("Hello from QEMU!", 60s, at)) << labctl.output().substr(at);

  // The kernel sees the terminal's size, and its changes.
  at = labctl.mark();
  labctl.type("stty size\r");
  EXPECT_TRUE(labctl.expect("40 120", 60s, at)) << labctl.output().substr(at);
  labctl.resize(30, 100);
  std::this_thread::sleep_for(3s);
  at = labctl.mark();
  labctl.type("stty size\r");
  EXPECT_TRUE(labctl.expect("30 100", 60s, at)) << labctl.output().substr(at);

  // Ctrl-C is a byte for the guest: it interrupts the guest's command, not labctl.
  labctl.type("sleep 100\r");
  std::this_thread::sleep_for(2s);
  labctl.type("\x03");
  at = labctl.mark();
  labctl.type("echo interrupted-$((40 + 2))\r");
  EXPECT_TRUE(labctl.expect("interrupted-42", 60s, at)) << labctl.output().substr(at);

  labctl.type("\x01x");
  auto code = labctl.wait(60s);
  ASSERT_TRUE(code.has_value()) << "labctl did not leave on Ctrl-A x\n" << labctl.output();
  EXPECT_EQ(*code, 0) << labctl.output();
  EXPECT_NE(labctl.output().find("left with Ctrl-A x"), std::string::npos) << labctl.output();
  EXPECT_TRUE(labctl.modes_restored()) << "the terminal was left in raw mode";
  auto console = read_file(artifacts.path() / "console.log");
  ASSERT_TRUE(console.ok());
  EXPECT_NE(console->find("Hello from QEMU!"), std::string::npos) << "transcript incomplete";
}

TEST_F(Shell, SigtermRestoresTheTerminalAndExits130) {
  PtyLabctl labctl({"shell", "--artifacts", artifacts.path().string(), "-m", "kmod/qemu_exercise"});
  ASSERT_TRUE(labctl.expect("console of the guest", 300s)) << labctl.output();
  ASSERT_TRUE(labctl.expect("/ # ", 120s, labctl.output().find("console of the guest")))
      << labctl.output();
  ::kill(labctl.pid(), SIGTERM);
  auto code = labctl.wait(60s);
  ASSERT_TRUE(code.has_value()) << "labctl did not exit after SIGTERM\n" << labctl.output();
  EXPECT_EQ(*code, 130);
  EXPECT_TRUE(labctl.modes_restored()) << "the terminal was left in raw mode";
}

TEST_F(Shell, ScriptedInputThroughAPipe) {
  auto r = run_capture({.argv = {LABCTL_BINARY, "shell", "--artifacts", artifacts.path().string(),
                                 "scenarios/qemu_exercise.json"},
                        .cwd = source_dir()},
                       600s, "cat /dev/qemu_exercise\nexit\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->status.code, 0) << r->out << r->err;
  EXPECT_NE(r->out.find("Hello from QEMU!"), std::string::npos) << r->out << r->err;
  EXPECT_NE(r->err.find("the guest shell exited"), std::string::npos) << r->err;
}

TEST_F(Shell, EndOfScriptedInputEndsTheShell) {
  // No "exit": labctl sends Ctrl-D when its input ends.
  auto r = run_capture({.argv = {LABCTL_BINARY, "shell", "--artifacts", artifacts.path().string()},
                        .cwd = source_dir()},
                       600s, "echo no-modules-$((6 * 7))\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->status.code, 0) << r->out << r->err;
  EXPECT_NE(r->out.find("no-modules-42"), std::string::npos) << r->out << r->err;
}

TEST_F(Shell, MissingModuleFolderIsBadInput) {
  auto r = labctl({"shell", "--artifacts", artifacts.path().string(), "-m", "kmod/nonexistent"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("kmod/nonexistent"), std::string::npos) << r.err;
}

// --shell-on-failure: the failed step left a file and a message in the module; the shell
// opened before teardown sees both, the step after the failure never ran, and leaving with
// Ctrl-A x finishes the run as without the flag: exit 1, the report, result.json.
TEST_F(Shell, OnFailureOpensInTheGuestTheFailedStepLeft) {
  PtyLabctl labctl({"run", "--shell-on-failure", "--artifacts", artifacts.path().string(),
                    "tests/scenarios/shell-on-failure.json"});
  ASSERT_TRUE(labctl.expect("shell in the guest as the failure left it", 600s)) << labctl.output();
  size_t intro = labctl.output().find("labctl run: shell-on-failure: step 2");
  ASSERT_NE(intro, std::string::npos) << labctl.output();
  std::string line = labctl.output().substr(intro, labctl.output().find('\n', intro) - intro);
  EXPECT_NE(line.find("step 2 (shell-on-failure.json:6) failed: stdout"), std::string::npos)
      << line;
  EXPECT_NE(line.find("leave with Ctrl-A x (Ctrl-A h: keys)"), std::string::npos) << line;
  ASSERT_TRUE(labctl.expect("/ # ", 120s, intro)) << labctl.output().substr(intro);

  // Upper case, so that the echo of the typed line cannot match.
  size_t at = labctl.mark();
  labctl.type("cat /tmp/evidence /sys/class/misc/qemu_exercise/message | tr a-z A-Z\r");
  EXPECT_TRUE(labctl.expect("LEFT-BY-STEP-1", 60s, at)) << labctl.output().substr(at);
  EXPECT_TRUE(labctl.expect("WRITTEN BY THE FAILING STEP", 60s, at)) << labctl.output().substr(at);
  at = labctl.mark();
  labctl.type("cut -d' ' -f1 /proc/modules | tr a-z A-Z\r");
  EXPECT_TRUE(labctl.expect("QEMU_EXERCISE", 60s, at)) << labctl.output().substr(at);

  at = labctl.mark();
  labctl.type("\x01x");
  auto code = labctl.wait(120s);
  ASSERT_TRUE(code.has_value()) << "labctl did not finish after Ctrl-A x\n" << labctl.output();
  EXPECT_EQ(*code, 1) << labctl.output();
  std::string after = labctl.output().substr(at);
  EXPECT_NE(after.find("left with Ctrl-A x; shell-on-failure goes on to its report"),
            std::string::npos)
      << after;
  EXPECT_NE(after.find("FAIL"), std::string::npos) << after;
  EXPECT_NE(after.find("0 passed, 1 failed"), std::string::npos) << after;
  EXPECT_TRUE(labctl.modes_restored()) << "the terminal was left in raw mode";

  auto result = read_file(artifacts.path() / "shell-on-failure" / "result.json");
  ASSERT_TRUE(result.ok()) << "no result.json";
  EXPECT_NE(result->find("\"verdict\": \"failed\""), std::string::npos) << *result;
  // Step 3 did not run: it is listed as skipped, not among the steps.
  auto json = Json::parse(*result)["scenarios"][0];
  ASSERT_EQ(json["steps"].size(), 2u) << *result;
  ASSERT_EQ(json["skipped_steps"].size(), 1u) << *result;
  EXPECT_EQ(json["skipped_steps"][0]["command"], "echo never-runs > /tmp/evidence") << *result;
  auto console = read_file(artifacts.path() / "shell-on-failure" / "console.log");
  ASSERT_TRUE(console.ok());
  EXPECT_NE(console->find("QEMU_EXERCISE"), std::string::npos) << "the shell is not in console.log";
}

// A module that did not load stops the run before its steps; the shell sees the kernel's
// reason in dmesg, and the module is not there.
TEST_F(Shell, OnFailureOpensWhenAModuleDidNotLoad) {
  PtyLabctl labctl({"run", "--shell-on-failure", "--artifacts", artifacts.path().string(),
                    "tests/scenarios/module-fails-to-load.json"});
  ASSERT_TRUE(labctl.expect("shell in the guest as the failure left it", 600s)) << labctl.output();
  size_t intro =
      labctl.output().find("labctl run: module-fails-to-load: module zbase did not load");
  ASSERT_NE(intro, std::string::npos) << labctl.output();
  ASSERT_TRUE(labctl.expect("/ # ", 120s, intro)) << labctl.output().substr(intro);
  size_t at = labctl.mark();
  labctl.type("dmesg | grep -q \"invalid for parameter .level\" && echo rejected-$((1 + 1)); "
              "grep -q zbase /proc/modules || echo absent-$((2 + 2))\r");
  EXPECT_TRUE(labctl.expect("rejected-2", 60s, at)) << labctl.output().substr(at);
  EXPECT_TRUE(labctl.expect("absent-4", 60s, at)) << labctl.output().substr(at);
  labctl.type("\x01x");
  auto code = labctl.wait(120s);
  ASSERT_TRUE(code.has_value()) << "labctl did not finish after Ctrl-A x\n" << labctl.output();
  EXPECT_EQ(*code, 1) << labctl.output();
  EXPECT_TRUE(labctl.modes_restored()) << "the terminal was left in raw mode";
  EXPECT_TRUE(fs::exists(artifacts.path() / "module-fails-to-load" / "result.json"));
}

TEST_F(Shell, OnFailureNeverOpensForAPassingScenario) {
  PtyLabctl labctl({"run", "--shell-on-failure", "--artifacts", artifacts.path().string(),
                    "scenarios/qemu_exercise.json"});
  auto code = labctl.wait(600s);
  ASSERT_TRUE(code.has_value()) << "labctl did not finish\n" << labctl.output();
  EXPECT_EQ(*code, 0) << labctl.output();
  EXPECT_EQ(labctl.output().find("shell in the guest"), std::string::npos) << labctl.output();
  EXPECT_NE(labctl.output().find("1 passed, 0 failed"), std::string::npos) << labctl.output();
  EXPECT_TRUE(labctl.modes_restored());
}

// A kernel that panicked leaves no guest to open a shell in: one line says so, and the run
// reports without waiting for the user.
TEST_F(Shell, OnFailureAfterAPanicSaysNoShellAndFinishes) {
  PtyLabctl labctl({"run", "--shell-on-failure", "--artifacts", artifacts.path().string(),
                    "tests/scenarios/panic-in-step.json"});
  auto code = labctl.wait(600s);
  ASSERT_TRUE(code.has_value()) << "labctl did not finish\n" << labctl.output();
  EXPECT_EQ(*code, 1) << labctl.output();
  EXPECT_NE(labctl.output().find("no shell: the guest kernel panicked (Kernel panic"),
            std::string::npos)
      << labctl.output();
  EXPECT_EQ(labctl.output().find("shell in the guest as the failure left it"), std::string::npos)
      << labctl.output();
  EXPECT_TRUE(labctl.modes_restored());
  EXPECT_TRUE(fs::exists(artifacts.path() / "panic-in-step" / "result.json"));
}

} // namespace
} // namespace labctl::e2e
