// The only file that knows Boost.Process: it launches children, everything after
// (pipes, waiting, killing) is plain POSIX so the lifetime rules stay ours.
#include "util/process.h"

#include "util/interrupt.h"
#include "util/shell_quote.h"

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace labctl {

namespace bp = boost::process;
using Clock = std::chrono::steady_clock;

std::string ExitStatus::describe() const {
  if (signal != 0)
    return fmt::format("killed by signal {} ({})", signal, strsignal(signal));
  return fmt::format("exit code {}", code);
}

namespace {

ExitStatus decode(int raw) {
  ExitStatus s;
  if (WIFEXITED(raw))
    s.code = WEXITSTATUS(raw);
  else if (WIFSIGNALED(raw))
    s.signal = WTERMSIG(raw);
  return s;
}

void close_fd(int& fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

struct PipePair {
  int read = -1, write = -1;
  // 0, or the errno of pipe2.
  int make() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      return errno;
    read = fds[0];
    write = fds[1];
    return 0;
  }
  ~PipePair() {
    close_fd(read);
    close_fd(write);
  }
};

// Puts the child in its own process group and gives it default signal handling, so a
// Ctrl-C in the terminal reaches labctl, which then tears the child down in order.
struct ChildSetup : bp::extend::handler {
  bool group = false;
  bool die_with_parent = false;
  pid_t parent = 0;
  char** env = nullptr; // the environment to exec with; null: the inherited one
  template <typename Exec> void on_exec_setup(Exec& exec) const {
    if (env)
      exec.env = env;
    if (group)
      ::setpgid(0, 0);
    if (die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) // the parent died before prctl took effect
        ::_exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    std::signal(SIGPIPE, SIG_DFL);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGHUP, SIG_DFL);
  }
};

// The inherited environment with `overrides` set, as "KEY=value" strings. Built by hand:
// Boost.Process's environment lookup reads past the end of shorter entries (ASan finds it).
std::vector<std::string>
child_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    if (std::none_of(overrides.begin(), overrides.end(),
                     [&](const auto& o) { return o.first == key; }))
      out.emplace_back(entry);
  }
  for (const auto& [key, value] : overrides)
    out.push_back(key + "=" + value);
  return out;
}

} // namespace

std::filesystem::path find_program(const std::string& name) {
  if (name.find('/') != std::string::npos)
    return ::access(name.c_str(), X_OK) == 0 ? std::filesystem::path(name) : "";
  auto found = bp::search_path(name);
  return found.empty() ? std::filesystem::path() : std::filesystem::path(found.string());
}

util::Result<std::unique_ptr<Process>> spawn(const ProcessSpec& spec) {
  if (spec.argv.empty())
    return util::Failure{"spawn: empty argv", EINVAL};
  spdlog::debug("spawn: {}", shell_join(spec.argv));

  auto exe = find_program(spec.argv[0]);
  if (exe.empty())
    return util::Failure{fmt::format("{}: program not found", spec.argv[0]), ENOENT};

  PipePair in, out, err;
  int pipe_error = 0;
  if (spec.in == Stream::pipe)
    pipe_error = in.make();
  if (spec.out == Stream::pipe && pipe_error == 0)
    pipe_error = out.make();
  if (spec.err == Stream::pipe && !spec.merge_stderr && pipe_error == 0)
    pipe_error = err.make();
  if (pipe_error != 0)
    return util::Failure{fmt::format("pipe: {}", std::strerror(pipe_error)), pipe_error};

  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  if (!spec.env.empty()) {
    env_strings = child_environment(spec.env);
    for (auto& entry : env_strings)
      envp.push_back(entry.data());
    envp.push_back(nullptr);
  }

  std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());
  ChildSetup setup;
  setup.group = spec.own_process_group;
  setup.die_with_parent = spec.die_with_parent;
  setup.parent = ::getpid();
  setup.env = envp.empty() ? nullptr : envp.data();

  std::error_code ec;
  bp::child child;
  try {
    // Boost's stream redirections are compile-time types, so build each combination here.
    int in_fd = spec.in == Stream::pipe   ? in.read
                : spec.in == Stream::null ? ::open("/dev/null", O_RDONLY | O_CLOEXEC)
                                          : STDIN_FILENO;
    int out_fd = spec.out == Stream::pipe   ? out.write
                 : spec.out == Stream::null ? ::open("/dev/null", O_WRONLY | O_CLOEXEC)
                                            : STDOUT_FILENO;
    int err_fd = spec.merge_stderr          ? out_fd
                 : spec.err == Stream::pipe ? err.write
                 : spec.err == Stream::null ? ::open("/dev/null", O_WRONLY | O_CLOEXEC)
                                            : STDERR_FILENO;
    FILE* fin = ::fdopen(::fcntl(in_fd, F_DUPFD_CLOEXEC, 3), "r");
    FILE* fout = ::fdopen(::fcntl(out_fd, F_DUPFD_CLOEXEC, 3), "w");
    FILE* ferr = ::fdopen(::fcntl(err_fd, F_DUPFD_CLOEXEC, 3), "w");
    if (spec.in == Stream::null)
      ::close(in_fd);
    if (spec.out == Stream::null)
      ::close(out_fd);
    if (spec.err == Stream::null && !spec.merge_stderr)
      ::close(err_fd);
    auto start_dir = spec.cwd.empty() ? std::filesystem::current_path() : spec.cwd;
    child = bp::child(bp::exe = exe.string(), bp::args = args, bp::std_in<fin, bp::std_out> fout,
                      bp::std_err > ferr, bp::start_dir = start_dir.string(), setup, ec);
    std::fclose(fin);
    std::fclose(fout);
    std::fclose(ferr);
  } catch (const std::exception& e) {
    return util::Failure{fmt::format("{}: cannot start: {}", spec.argv[0], e.what())};
  }
  if (ec)
    return util::Failure{fmt::format("{}: cannot start: {}", spec.argv[0], ec.message()),
                         ec.value()};

  std::unique_ptr<Process> p(new Process());
  p->m_pid = child.id();
  p->m_group = spec.own_process_group;
  child.detach(); // from here on, waiting and killing are ours
  if (spec.in == Stream::pipe) {
    p->m_in = in.write;
    in.write = -1;
  }
  if (spec.out == Stream::pipe) {
    p->m_out = out.read;
    out.read = -1;
  }
  if (spec.err == Stream::pipe && !spec.merge_stderr) {
    p->m_err = err.read;
    err.read = -1;
  }
  return p;
}

Process::~Process() {
  if (!m_status && m_pid > 0) {
    signal(SIGKILL);
    wait();
  }
  close_fd(m_in);
  close_fd(m_out);
  close_fd(m_err);
}

void Process::close_stdin() {
  close_fd(m_in);
}

std::optional<ExitStatus> Process::try_wait() {
  if (m_status)
    return m_status;
  int raw = 0;
  pid_t r = ::waitpid(m_pid, &raw, WNOHANG);
  if (r == m_pid)
    m_status = decode(raw);
  else if (r < 0 && errno == ECHILD)
    m_status = ExitStatus{};
  return m_status;
}

ExitStatus Process::wait() {
  while (!m_status) {
    int raw = 0;
    pid_t r = ::waitpid(m_pid, &raw, 0);
    if (r == m_pid)
      m_status = decode(raw);
    else if (r < 0 && errno != EINTR)
      m_status = ExitStatus{};
  }
  return *m_status;
}

std::optional<ExitStatus> Process::wait_for(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  while (!try_wait()) {
    if (Clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
  return m_status;
}

void Process::signal(int sig) {
  if (m_pid <= 0)
    return;
  if (m_group)
    ::kill(-m_pid, sig); // the group outlives the leader; signal it even after the exit
  if (!m_status)
    ::kill(m_pid, sig);
}

ExitStatus Process::terminate(std::chrono::milliseconds grace) {
  if (m_status) {
    signal(SIGKILL); // what is left of the group
    return *m_status;
  }
  signal(SIGTERM);
  auto deadline = Clock::now() + grace;
  auto exited_unreaped = [&] {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(m_pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == m_pid;
  };
  while (!exited_unreaped() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // Not reaped yet, so the group id cannot have been reused: whatever of the group is still
  // there (a compiler that ignored SIGTERM, a grandchild of make) dies now.
  if (m_group)
    ::kill(-m_pid, SIGKILL);
  ::kill(m_pid, SIGKILL);
  return wait();
}

util::Result<Completed> run_capture(ProcessSpec spec, std::chrono::milliseconds timeout,
                                    std::string input) {
  if (interrupted())
    return util::Failure{
        fmt::format("{}: not started: interrupted", spec.argv.empty() ? "" : spec.argv[0]), EINTR};
  spec.in = input.empty() ? Stream::null : Stream::pipe;
  spec.out = Stream::pipe;
  if (!spec.merge_stderr)
    spec.err = Stream::pipe;
  spec.own_process_group = true;
  auto started = spawn(spec);
  if (!started)
    return started.error();
  auto& child = **started;

  Completed done;
  size_t input_done = 0;
  if (child.stdin_fd() >= 0)
    ::fcntl(child.stdin_fd(), F_SETFL, O_NONBLOCK);
  auto deadline = Clock::now() + timeout;
  int out_fd = child.stdout_fd(), err_fd = child.stderr_fd();
  // The self-pipe stays readable once a signal arrived, so it wakes every poll below.
  pollfd stop = {interrupt_fd(), POLLIN, 0};
  while (out_fd >= 0 || err_fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      done.timed_out = true;
      break;
    }
    if (interrupted()) {
      done.interrupted = true;
      break;
    }
    pollfd fds[4];
    int n = 0;
    int i_out = -1, i_err = -1, i_in = -1;
    if (stop.fd >= 0)
      fds[n++] = stop;
    if (out_fd >= 0) {
      i_out = n;
      fds[n++] = {out_fd, POLLIN, 0};
    }
    if (err_fd >= 0) {
      i_err = n;
      fds[n++] = {err_fd, POLLIN, 0};
    }
    if (child.stdin_fd() >= 0) {
      i_in = n;
      fds[n++] = {child.stdin_fd(), POLLOUT, 0};
    }
    int r =
        ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(std::min<long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR)
      break;
    char buf[65536];
    auto drain = [&](int idx, int& fd, std::string& sink) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR)))
        return;
      ssize_t got = ::read(fd, buf, sizeof buf);
      if (got > 0)
        sink.append(buf, static_cast<size_t>(got));
      else if (got == 0 || (errno != EINTR && errno != EAGAIN))
        fd = -1;
    };
    drain(i_out, out_fd, done.out);
    drain(i_err, err_fd, done.err);
    if (i_in >= 0 && (fds[i_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(child.stdin_fd(), input.data() + input_done, input.size() - input_done);
      if (w > 0)
        input_done += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR)
        input_done = input.size();
      if (input_done >= input.size())
        child.close_stdin();
    }
  }
  // The output can close before the child ends (it closed its stdout): the wait for its
  // exit still honours the deadline and an interrupt.
  while (!done.timed_out && !done.interrupted && !child.try_wait()) {
    if (interrupted())
      done.interrupted = true;
    else if (Clock::now() >= deadline)
      done.timed_out = true;
    else if (stop.fd >= 0)
      ::poll(&stop, 1, 20);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (done.interrupted)
    done.status = child.terminate(k_terminate_grace);
  else if (done.timed_out)
    child.signal(SIGKILL);
  if (!done.interrupted)
    done.status = child.wait();
  return done;
}

} // namespace labctl
