#pragma once

#include "util/fs.h"
#include "util/process.h"
#include "util/unix_socket.h"
#include "vm/guest_link.h"
#include "vm/qemu_command.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace labctl {

// One running QEMU: its process group, console (ttyS0 on its stdout), control channel
// (ttyS1 over a socket) and QMP. Destroying it tears QEMU down (QMP quit, SIGTERM, SIGKILL
// to the group, reap) and removes its private socket directory, on every path.
class QemuVm final : public GuestLink {
public:
  // Start QEMU; the control, QMP and GDB sockets (0600) live in a private 0700 temp dir.
  // Everything the console prints is appended to `console_log` (the first
  // k_max_console_log bytes). Fails (environment) when QEMU cannot start, with its stderr in
  // the message.
  static Result<std::unique_ptr<QemuVm>> start(QemuLaunch launch, UniqueFd console_log);
  ~QemuVm() override;
  QemuVm(const QemuVm&) = delete;
  QemuVm& operator=(const QemuVm&) = delete;

  Event pump(const std::function<bool()>& done, Clock::time_point deadline) override;
  bool send_control(std::string_view bytes) override;
  bool send_console(std::string_view bytes) override;
  void watch(int fd, std::function<void()> ready) override;
  bool stop_cpus() override;
  Result<bool> cpus_running() override;
  ExitStatus shutdown() override;
  std::optional<ExitStatus> exit_status() override;

  const std::vector<std::string>& argv() const override { return m_argv; }
  std::string qemu_stderr() const override { return m_stderr; }
  const std::deque<std::string>& recent_console() const override { return m_recent; }
  uint64_t console_bytes() const override { return m_console_bytes; }
  const std::string& console_log_error() const override { return m_console_log_error; }
  const std::filesystem::path& gdb_socket() const override { return m_gdb_socket; }

  // Send one QMP command (a JSON object) and wait a few seconds for its reply; false when
  // QEMU answers with an error or not at all. The first call negotiates capabilities.
  bool qmp(std::string_view command_json, std::string* reply = nullptr);
  pid_t pid() const { return m_process ? m_process->pid() : -1; }

private:
  QemuVm() = default;
  void console_data(std::string_view data);
  void drain_stderr();
  bool qmp_read_line(std::string& line, Clock::time_point deadline);

  TempDir m_private{"labctl-vm"};
  std::filesystem::path m_gdb_socket;
  std::vector<std::string> m_argv;
  std::unique_ptr<Process> m_process;
  UniqueFd m_control;
  UniqueFd m_qmp;
  std::string m_qmp_buffer;
  bool m_qmp_ready = false; // greeting read, capabilities negotiated
  int m_watch_fd = -1;
  std::function<void()> m_watch_ready;
  UniqueFd m_console_log;
  uint64_t m_console_bytes = 0;
  uint64_t m_console_logged = 0;
  std::string m_console_log_error;
  std::string m_partial_line;
  std::deque<std::string> m_recent;
  std::string m_stderr;
  bool m_console_open = true;
  bool m_stderr_open = true;
  bool m_control_open = true;
  bool m_shut_down = false;
};

} // namespace labctl
