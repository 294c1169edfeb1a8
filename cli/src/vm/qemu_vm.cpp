#include "vm/qemu_vm.h"

#include "util/fs.h"
#include "util/interrupt.h"
#include "util/shell_quote.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace labctl {

namespace {

constexpr size_t k_recent_lines = 60;
constexpr size_t k_max_line = 64 * 1024;
constexpr size_t k_max_stderr = 64 * 1024;

ssize_t read_some(int fd, char* buf, size_t size) {
  for (;;) {
    ssize_t n = ::read(fd, buf, size);
    if (n < 0 && errno == EINTR)
      continue;
    return n;
  }
}

Status check_private_dir(const fs::path& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0)
    return environment_error(fmt::format("{}: {}", dir.string(), std::strerror(errno)));
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)
    return environment_error(fmt::format(
        "{} is not a private folder (a directory of uid {} with mode 0700): refusing to put "
        "QEMU's sockets there",
        dir.string(), ::geteuid()));
  return ok_status();
}

Status owner_only(const fs::path& socket) {
  if (::fchmodat(AT_FDCWD, socket.c_str(), 0600, 0) != 0)
    return environment_error(
        fmt::format("cannot make {} mode 0600: {}", socket.string(), std::strerror(errno)));
  return ok_status();
}

} // namespace

Result<std::unique_ptr<QemuVm>> QemuVm::start(QemuLaunch launch, UniqueFd console_log) {
  std::unique_ptr<QemuVm> vm(new QemuVm());
  vm->m_console_log = std::move(console_log);
  // Whoever reaches these sockets drives a root QEMU (QMP, gdb's `monitor`): the folder
  // must be root's alone, and each socket is 0600 as well.
  if (auto s = check_private_dir(vm->m_private.path()); !s)
    return s.error();
  launch.control_socket = vm->m_private.path() / "control.sock";
  launch.qmp_socket = vm->m_private.path() / "qmp.sock";
  if (launch.gdb)
    launch.gdb_socket = vm->m_private.path() / "gdb.sock";
  vm->m_gdb_socket = launch.gdb_socket;
  auto control_listener = unix_listen(launch.control_socket);
  if (!control_listener)
    return control_listener.error();
  auto qmp_listener = unix_listen(launch.qmp_socket);
  if (!qmp_listener)
    return qmp_listener.error();
  for (const auto& socket : {launch.control_socket, launch.qmp_socket})
    if (auto s = owner_only(socket); !s)
      return s.error();

  vm->m_argv = qemu_argv(launch);
  auto process = spawn({.argv = vm->m_argv,
                        .in = Stream::pipe,
                        .out = Stream::pipe,
                        .err = Stream::pipe,
                        .own_process_group = true,
                        .die_with_parent = true});
  if (!process)
    return process.error();
  vm->m_process = std::move(*process);
  for (int fd : {vm->m_process->stdout_fd(), vm->m_process->stderr_fd(), vm->m_process->stdin_fd()})
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  // QEMU connects both chardevs while it initializes; if it dies first, its stderr closes.
  auto fail_start = [&](const std::string& what) -> Error {
    vm->m_process->wait_for(std::chrono::seconds(2));
    vm->drain_stderr();
    std::string err = vm->m_stderr;
    while (!err.empty() && err.back() == '\n')
      err.pop_back();
    return environment_error(fmt::format("QEMU failed to start ({}): {}", what,
                                         err.empty() ? "no output on stderr" : err));
  };
  auto control =
      unix_accept(control_listener->get(), std::chrono::seconds(60), vm->m_process->stderr_fd());
  if (!control)
    return fail_start(control.error().message);
  vm->m_control = std::move(*control);
  auto qmp = unix_accept(qmp_listener->get(), std::chrono::seconds(30), vm->m_process->stderr_fd());
  if (!qmp)
    return fail_start(qmp.error().message);
  vm->m_qmp = std::move(*qmp);
  // QEMU created the stub's socket (its chardev comes first) with its umask.
  if (launch.gdb)
    if (auto s = owner_only(launch.gdb_socket); !s)
      return s.error();
  spdlog::debug("qemu pid {} started", vm->m_process->pid());
  return vm;
}

QemuVm::~QemuVm() {
  try {
    shutdown();
  } catch (const std::exception& e) {
    spdlog::warn("QEMU teardown: {}", e.what());
  }
}

void QemuVm::drain_stderr() {
  if (!m_process || m_process->stderr_fd() < 0 || !m_stderr_open)
    return;
  char buf[4096];
  for (;;) {
    ssize_t n = read_some(m_process->stderr_fd(), buf, sizeof buf);
    if (n <= 0) {
      if (n == 0)
        m_stderr_open = false;
      return;
    }
    if (m_stderr.size() < k_max_stderr)
      m_stderr.append(buf, static_cast<size_t>(n));
  }
}

void QemuVm::console_data(std::string_view data) {
  m_console_bytes += data.size();
  if (m_console_log.valid() && m_console_logged <= k_max_console_log) {
    std::string_view keep = data.substr(0, k_max_console_log - m_console_logged);
    int err = write_all(m_console_log.get(), keep);
    if (err != 0 && m_console_log_error.empty())
      m_console_log_error = std::strerror(err);
    m_console_logged += keep.size();
    if (keep.size() < data.size()) {
      m_console_logged = k_max_console_log + 1; // full: the note below is the last line
      write_all(m_console_log.get(),
                fmt::format("\n[labctl: console.log stops here, at {} MiB; the console went on]\n",
                            k_max_console_log >> 20));
    }
  }
  if (on_console_bytes)
    on_console_bytes(data);
  for (char c : data) {
    if (c == '\r')
      continue;
    if (c != '\n' && m_partial_line.size() < k_max_line) {
      m_partial_line += c;
      continue;
    }
    m_recent.push_back(m_partial_line);
    if (m_recent.size() > k_recent_lines)
      m_recent.pop_front();
    if (on_console_line)
      on_console_line(m_partial_line);
    m_partial_line.clear();
    if (c != '\n')
      m_partial_line += c;
  }
}

QemuVm::Event QemuVm::pump(const std::function<bool()>& done, Clock::time_point deadline) {
  char buf[65536];
  for (;;) {
    if (done && done())
      return Event::done;
    if (interrupted())
      return Event::interrupted;
    if (!m_console_open && !m_stderr_open) {
      if (m_process->wait_for(std::chrono::seconds(5)))
        return Event::qemu_exited;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return Event::timeout;

    pollfd fds[5];
    nfds_t n = 0;
    int i_console = -1, i_err = -1, i_control = -1, i_watch = -1;
    if (m_console_open) {
      i_console = static_cast<int>(n);
      fds[n++] = {m_process->stdout_fd(), POLLIN, 0};
    }
    if (m_stderr_open) {
      i_err = static_cast<int>(n);
      fds[n++] = {m_process->stderr_fd(), POLLIN, 0};
    }
    if (m_control_open && m_control.valid()) {
      i_control = static_cast<int>(n);
      fds[n++] = {m_control.get(), POLLIN, 0};
    }
    if (m_watch_fd >= 0) {
      i_watch = static_cast<int>(n);
      fds[n++] = {m_watch_fd, POLLIN, 0};
    }
    fds[n++] = {interrupt_fd(), POLLIN, 0};
    int r = ::poll(fds, n, static_cast<int>(std::min<long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR)
      return Event::qemu_exited;
    if (r <= 0)
      continue;
    if (i_console >= 0 && fds[i_console].revents) {
      ssize_t got = read_some(m_process->stdout_fd(), buf, sizeof buf);
      if (got > 0)
        console_data({buf, static_cast<size_t>(got)});
      else if (got == 0 || errno != EAGAIN)
        m_console_open = false;
    }
    if (i_err >= 0 && fds[i_err].revents)
      drain_stderr();
    if (i_control >= 0 && fds[i_control].revents) {
      ssize_t got = read_some(m_control.get(), buf, sizeof buf);
      if (got > 0) {
        if (on_control_bytes)
          on_control_bytes({buf, static_cast<size_t>(got)});
      } else if (got == 0 || errno != EAGAIN) {
        m_control_open = false;
      }
    }
    if (i_watch >= 0 && fds[i_watch].revents && m_watch_ready) {
      auto ready = m_watch_ready; // it may call watch() and replace itself
      ready();
    }
  }
}

void QemuVm::watch(int fd, std::function<void()> ready) {
  m_watch_fd = fd;
  m_watch_ready = fd >= 0 ? std::move(ready) : nullptr;
}

bool QemuVm::qmp_read_line(std::string& line, Clock::time_point deadline) {
  for (;;) {
    if (auto nl = m_qmp_buffer.find('\n'); nl != std::string::npos) {
      line = m_qmp_buffer.substr(0, nl);
      m_qmp_buffer.erase(0, nl + 1);
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{m_qmp.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    char buf[4096];
    ssize_t got = read_some(m_qmp.get(), buf, sizeof buf);
    if (got > 0)
      m_qmp_buffer.append(buf, static_cast<size_t>(got));
    else if (got == 0 || errno != EAGAIN)
      return false;
  }
}

bool QemuVm::qmp(std::string_view command_json, std::string* reply) {
  if (!m_qmp.valid() || m_shut_down)
    return false;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  // One reply: the next line that is not an asynchronous event.
  auto answer = [&](std::string& text) {
    for (;;) {
      if (!qmp_read_line(text, deadline))
        return false;
      auto json = nlohmann::json::parse(text, nullptr, false);
      if (json.is_object() && json.contains("event"))
        continue;
      return json.is_object() && json.contains("return");
    }
  };
  std::string line;
  if (!m_qmp_ready) {
    if (!qmp_read_line(line, deadline)) // the greeting
      return false;
    if (!write_all(m_qmp.get(), "{\"execute\":\"qmp_capabilities\"}\n", std::chrono::seconds(5)) ||
        !answer(line))
      return false;
    m_qmp_ready = true;
  }
  std::string command(command_json);
  command += '\n';
  if (!write_all(m_qmp.get(), command, std::chrono::seconds(5)))
    return false;
  bool ok = answer(line);
  if (!ok)
    spdlog::debug("QMP {}: {}", command_json, line);
  if (reply)
    *reply = line;
  return ok;
}

bool QemuVm::send_control(std::string_view bytes) {
  return m_control.valid() && m_control_open &&
         write_all(m_control.get(), bytes, std::chrono::seconds(30));
}

bool QemuVm::send_console(std::string_view bytes) {
  if (!m_process || m_process->stdin_fd() < 0)
    return false;
  while (!bytes.empty()) {
    ssize_t n = ::write(m_process->stdin_fd(), bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return false;
    pollfd p{m_process->stdin_fd(), POLLOUT, 0};
    if (::poll(&p, 1, 5000) <= 0)
      return false;
  }
  return true;
}

bool QemuVm::stop_cpus() {
  return qmp(R"({"execute":"stop"})");
}

Result<bool> QemuVm::cpus_running() {
  std::string reply;
  if (!qmp(R"({"execute":"query-status"})", &reply))
    return failure("QEMU did not answer query-status on QMP: " + reply);
  auto json = nlohmann::json::parse(reply, nullptr, false);
  return json.is_object() && json["return"].is_object() && json["return"].value("running", false);
}

std::optional<ExitStatus> QemuVm::exit_status() {
  return m_process ? m_process->try_wait() : std::nullopt;
}

ExitStatus QemuVm::shutdown() {
  if (!m_process)
    return {};
  if (m_shut_down)
    return m_process->wait();
  m_shut_down = true;
  if (!m_process->try_wait() && m_qmp.valid()) {
    // The greeting may be unread; QEMU handles our commands in order regardless.
    constexpr std::string_view quit =
        "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n";
    write_all(m_qmp.get(), m_qmp_ready ? quit.substr(quit.find('\n') + 1) : quit,
              std::chrono::seconds(1));
  }
  auto drain_console = [this] {
    char buf[65536];
    while (m_console_open) {
      ssize_t got = read_some(m_process->stdout_fd(), buf, sizeof buf);
      if (got <= 0)
        break;
      console_data({buf, static_cast<size_t>(got)});
    }
  };
  if (!m_process->wait_for(std::chrono::seconds(3))) {
    spdlog::debug("qemu pid {}: no exit after QMP quit, sending SIGTERM", m_process->pid());
    m_process->signal(SIGTERM);
    if (!m_process->wait_for(std::chrono::seconds(3))) {
      spdlog::debug("qemu pid {}: sending SIGKILL", m_process->pid());
      m_process->signal(SIGKILL);
    }
  }
  ExitStatus status = m_process->wait();
  m_process->signal(SIGKILL); // anything left in the group
  drain_console();
  drain_stderr();
  if (!m_partial_line.empty())
    console_data("\n");
  return status;
}

} // namespace labctl
