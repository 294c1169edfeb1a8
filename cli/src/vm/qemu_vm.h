#pragma once

#include "vm/qemu_command.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/unix_socket.h"

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
class QemuVm {
public:
  using Clock = std::chrono::steady_clock;
  enum class Event { done, timeout, qemu_exited, interrupted };

  // Start QEMU; the control, QMP and GDB sockets (0600) live in a private 0700 temp dir.
  // Everything the console prints is appended to `console_log`. Fails (environment) when
  // QEMU cannot start, with its stderr in the message.
  static Result<std::unique_ptr<QemuVm>> start(QemuLaunch launch,
                                               const std::filesystem::path& console_log);
  ~QemuVm();
  QemuVm(const QemuVm&) = delete;
  QemuVm& operator=(const QemuVm&) = delete;

  // Move bytes until `done()` is true, the deadline passes, QEMU exits or labctl is
  // interrupted. Callbacks run from inside this loop.
  Event pump(const std::function<bool()>& done, Clock::time_point deadline);

  // Send bytes to the guest's control tty; false when the channel is gone.
  bool send_control(std::string_view bytes);
  // Send bytes to the guest's console (ttyS0 input).
  bool send_console(std::string_view bytes);
  // Send one QMP command (a JSON object) and wait a few seconds for its reply; false when
  // QEMU answers with an error or not at all. The first call negotiates capabilities.
  bool qmp(std::string_view command_json, std::string* reply = nullptr);
  // Also poll `fd` in pump() and call `ready` when it is readable or hung up; -1 stops.
  void watch(int fd, std::function<void()> ready);

  // Orderly teardown; idempotent. Returns how QEMU ended.
  ExitStatus shutdown();

  std::optional<ExitStatus> exit_status();
  std::string qemu_stderr() const { return m_stderr; }
  const std::deque<std::string>& recent_console() const { return m_recent; }
  // console.log keeps the first k_max_console_log bytes; what the console printed beyond
  // is still scanned for faults, but not stored.
  static constexpr uint64_t k_max_console_log = uint64_t{64} << 20;
  // Every byte the console printed, stored or not.
  uint64_t console_bytes() const { return m_console_bytes; }
  // Why writing console.log failed (e.g. "No space left on device"), or empty.
  const std::string& console_log_error() const { return m_console_log_error; }
  const std::vector<std::string>& argv() const { return m_argv; }
  pid_t pid() const { return m_process ? m_process->pid() : -1; }
  // The GDB stub's unix socket (in the private folder), or empty without a stub.
  const std::filesystem::path& gdb_socket() const { return m_gdb_socket; }

  std::function<void(std::string_view line)> on_console_line;
  std::function<void(std::string_view bytes)> on_console_bytes;
  std::function<void(std::string_view bytes)> on_control_bytes;

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
