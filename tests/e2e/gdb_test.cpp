// `labctl run --gdb-wait` end to end: gdb attaches with labctl's gdb.script, stops in a
// module function at a breakpoint, and the run still passes once gdb lets go. The stub is
// a unix socket only root can reach: another local user can connect to none of QEMU's
// sockets, and neither QEMU nor labctl listens on TCP (gdb's `monitor` runs HMP as root).
#include "e2e_support.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <grp.h>
#include <map>
#include <set>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace labctl::e2e {
namespace {

using namespace std::chrono_literals;

constexpr uid_t k_nobody = 65534;

// labctl run --gdb-wait on gdb-break.json, and the gdb.script it wrote once the guest's
// modules are loaded (the guest is then halted until gdb continues it).
// A failed assertion ends labctl (it would wait for gdb forever) and so its QEMU.
struct GdbRun {
  std::unique_ptr<Process> labctl;
  fs::path script;
  std::string text;
  ~GdbRun() {
    if (labctl && !labctl->try_wait()) {
      labctl->signal(SIGTERM);
      labctl->wait_for(60s);
    }
  }
};

// On 6.12, Debian 12's gdb 13 misplaces a module's .init.text functions (built with
// -fpatchable-function-entry=16,16 they start at offset 0x10) onto .text: a stop in
// debugcon_write is named debugcon_init. The gdb tests therefore boot 6.1, where gdb reads
// the same add-symbol-file line right (docs/faults.md, "gdb on 6.12").
void start_gdb_run(const TempDir& artifacts, GdbRun& run) {
  std::string release = installed_kernel_of_series("6.1");
  ASSERT_FALSE(release.empty()) << "no 6.1 kernel with headers (scripts/setup.sh installs it)";
  fs::path profile = artifacts.path() / "kernel-6.1.json";
  ASSERT_TRUE(write_file_atomic(profile, fmt::format(R"({{"kernel": "{}"}})", release)).ok());
  auto child =
      spawn({.argv = {LABCTL_BINARY, "--profile", profile.string(), "run", "--gdb-wait",
                      "--artifacts", artifacts.path().string(), "tests/scenarios/gdb-break.json"},
             .cwd = source_dir(),
             .out = Stream::pipe,
             .err = Stream::pipe});
  ASSERT_TRUE(child.ok()) << child.error().message;
  run.labctl = std::move(*child);
  run.script = artifacts.path() / "gdb-break" / "gdb.script";
  auto deadline = std::chrono::steady_clock::now() + 300s;
  while (std::chrono::steady_clock::now() < deadline && !fs::exists(run.script) &&
         !run.labctl->try_wait())
    std::this_thread::sleep_for(100ms);
  if (!fs::exists(run.script)) {
    run.labctl->signal(SIGTERM);
    run.labctl->wait_for(60s);
    FAIL() << "labctl never wrote " << run.script;
  }
  auto text = read_file(run.script);
  ASSERT_TRUE(text.ok());
  run.text = *text;
}

// What `target remote` in gdb.script names.
std::string stub_of(const std::string& script) {
  constexpr std::string_view k_target = "target remote ";
  auto at = script.find(k_target);
  if (at == std::string::npos)
    return "";
  at += k_target.size();
  return script.substr(at, script.find('\n', at) - at);
}

// connect(2) to each unix socket as uid/gid `nobody` with no supplementary groups (what
// `setpriv --reuid=65534 --regid=65534 --clear-groups` does), in a forked child; the errno
// of each attempt, 0 for a connection.
std::vector<int> connect_as_nobody(const std::vector<fs::path>& sockets) {
  int fds[2];
  if (::pipe(fds) != 0)
    return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(k_nobody, k_nobody, k_nobody) != 0 ||
        ::setresuid(k_nobody, k_nobody, k_nobody) != 0)
      ::_exit(1);
    for (const auto& path : sockets) {
      int err = 0;
      int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
      if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        err = errno;
      if (::write(fds[1], &err, sizeof err) != sizeof err)
        ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::vector<int> errors;
  int err = 0;
  while (::read(fds[0], &err, sizeof err) == sizeof err)
    errors.push_back(err);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "could not become nobody";
  return errors;
}

// The socket inodes among a process's open files.
std::set<std::string> socket_inodes(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator(fmt::format("/proc/{}/fd", pid), ec)) {
    auto target = fs::read_symlink(fd.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0)
      inodes.insert(target.substr(8, target.size() - 9));
  }
  return inodes;
}

// Inodes of the TCP sockets in state LISTEN (0A) of /proc/net/tcp and tcp6.
std::set<std::string> tcp_listen_inodes() {
  std::set<std::string> inodes;
  for (auto table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, timer, retrans, uid, timeout, inode;
      fields >> sl >> local >> remote >> state >> queues >> timer >> retrans >> uid >> timeout >>
          inode;
      if (state == "0A")
        inodes.insert(inode);
    }
  }
  return inodes;
}

// The path of each listening unix socket (/proc/net/unix, __SO_ACCEPTCON) by inode.
std::map<std::string, std::string> unix_listeners() {
  std::map<std::string, std::string> out;
  std::ifstream in("/proc/net/unix");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, inode, path;
    fields >> num >> refs >> protocol >> flags >> type >> state >> inode >> path;
    if (std::stoul(flags, nullptr, 16) & 0x10000)
      out[inode] = path;
  }
  return out;
}

pid_t qemu_pid_using(const std::string& needle) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    auto cmdline = read_file(entry.path() / "cmdline");
    if (cmdline &&
        cmdline->substr(0, cmdline->find('\0')).find("qemu-system") != std::string::npos &&
        cmdline->find(needle) != std::string::npos)
      return std::stoi(pid);
  }
  return -1;
}

// Drain what a finished child wrote to one of its pipes.
std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(Gdb, BreakpointInModuleFunctionIsHitAndTheRunPasses) {
  if (find_program("gdb").empty())
    GTEST_SKIP() << "gdb is not installed";
  TempDir artifacts("labctl-e2e-gdb");
  GdbRun run;
  ASSERT_NO_FATAL_FAILURE(start_gdb_run(artifacts, run));
  auto& labctl = run.labctl;
  const auto& script = run.script;
  const std::string& text = run.text;
  fs::path stub = stub_of(text);
  EXPECT_EQ(stub.filename(), "gdb.sock") << text;
  EXPECT_NE(text.find("add-symbol-file "), std::string::npos) << text;
  EXPECT_NE(text.find("debugcon.ko 0x"), std::string::npos) << text;

  // The guest is halted until gdb continues it; the breakpoint is hit by the scenario's step.
  auto gdb = run_capture(
      {.argv = {"gdb", "-batch", "-nx", "-x", script.string(), "-ex", "break debugcon_write", "-ex",
                "continue", "-ex", "bt", "-ex", "detach"},
       .merge_stderr = true},
      180s);
  ASSERT_TRUE(gdb.ok()) << gdb.error().message;
  EXPECT_FALSE(gdb->timed_out) << gdb->out;
  EXPECT_NE(gdb->out.find("Breakpoint 1, debugcon_write ("), std::string::npos) << gdb->out;
  EXPECT_NE(gdb->out.find("#0  debugcon_write ("), std::string::npos) << gdb->out;

  auto status = labctl->wait_for(180s);
  ASSERT_TRUE(status) << "labctl did not finish after gdb detached";
  EXPECT_EQ(status->code, 0);
  EXPECT_EQ(qemu_processes_using(artifacts.path().string()), 0) << "a QEMU outlived the run";
  // The line labctl printed is the command that was run above.
  std::string err = read_all(labctl->stderr_fd());
  EXPECT_NE(err.find("attach with: gdb -x " + script.string()), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(stub.parent_path())) << "the private folder outlived the run";
}

TEST(Gdb, AnotherLocalUserCannotReachTheStubAndNothingListensOnTcp) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root to act as another user";
  TempDir artifacts("labctl-e2e-gdb-priv");
  GdbRun run;
  ASSERT_NO_FATAL_FAILURE(start_gdb_run(artifacts, run));
  if (find_program("gdb").empty())
    GTEST_SKIP() << "gdb is not installed";
  // The stub is a unix socket in a folder of root's alone, and the socket is 0600 too.
  fs::path stub = stub_of(run.text);
  ASSERT_TRUE(stub.is_absolute()) << run.text;
  fs::path folder = stub.parent_path();
  struct stat st {};
  ASSERT_EQ(::lstat(stub.c_str(), &st), 0) << stub << ": " << std::strerror(errno);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << std::oct << st.st_mode;
  ASSERT_EQ(::lstat(folder.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << std::oct << st.st_mode;
  std::vector<fs::path> sockets = {stub, folder / "qmp.sock", folder / "control.sock"};
  for (const auto& s : sockets) {
    ASSERT_EQ(::lstat(s.c_str(), &st), 0) << s;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << s << " mode " << std::oct << st.st_mode;
  }

  // Another local user cannot connect to any of them.
  auto errors = connect_as_nobody(sockets);
  ASSERT_EQ(errors.size(), sockets.size());
  for (size_t i = 0; i < sockets.size(); ++i)
    EXPECT_EQ(errors[i], EACCES) << sockets[i] << ": " << std::strerror(errors[i]);

  // QEMU serves the stub on that unix socket and listens on no TCP port; nor does labctl.
  pid_t qemu = qemu_pid_using(artifacts.path().string());
  ASSERT_GT(qemu, 0) << "no QEMU found";
  auto qemu_sockets = socket_inodes(qemu);
  auto listeners = unix_listeners();
  bool serves_stub = false;
  for (const auto& inode : qemu_sockets)
    serves_stub |= listeners.count(inode) && listeners[inode] == stub.string();
  EXPECT_TRUE(serves_stub) << "QEMU has no listening unix socket at " << stub;
  auto tcp = tcp_listen_inodes();
  for (pid_t pid : {qemu, run.labctl->pid()})
    for (const auto& inode : socket_inodes(pid))
      EXPECT_EQ(tcp.count(inode), 0u)
          << "pid " << pid << " listens on TCP (socket inode " << inode << ")";

  // gdb (as root) still attaches, and leaving it resumes the halted guest: the run passes.
  auto gdb =
      run_capture({.argv = {"gdb", "-batch", "-nx", "-x", run.script.string(), "-ex", "detach"},
                   .merge_stderr = true},
                  180s);
  ASSERT_TRUE(gdb.ok()) << gdb.error().message;
  EXPECT_FALSE(gdb->timed_out) << gdb->out;
  EXPECT_NE(gdb->out.find("[Inferior 1 (process 1) detached]"), std::string::npos) << gdb->out;
  auto status = run.labctl->wait_for(180s);
  ASSERT_TRUE(status) << "labctl did not finish after gdb detached";
  EXPECT_EQ(status->code, 0);
  EXPECT_EQ(qemu_processes_using(artifacts.path().string()), 0) << "a QEMU outlived the run";
}

} // namespace
} // namespace labctl::e2e
