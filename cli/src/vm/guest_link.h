#pragma once

#include "core/error.h"
#include "util/process.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// All that a run sees of a running VM: bytes on its console (ttyS0) and control channel
// (ttyS1), its CPUs' run state, its end, and what to quote when something goes wrong.
// QemuVm is the real one; GuestSession's tests replay recorded guests through a fake.
class GuestLink {
public:
  using Clock = std::chrono::steady_clock;
  enum class Event { done, timeout, qemu_exited, interrupted };

  virtual ~GuestLink() = default;

  // Move bytes until `done()` is true, the deadline passes, the VM exits or labctl is
  // interrupted. The on_* callbacks run from inside this loop.
  virtual Event pump(const std::function<bool()>& done, Clock::time_point deadline) = 0;
  // Send bytes to the guest's control tty; false when the channel is gone.
  virtual bool send_control(std::string_view bytes) = 0;
  // Send bytes to the guest's console (ttyS0 input).
  virtual bool send_console(std::string_view bytes) = 0;
  // Also poll `fd` in pump() and call `ready` when it is readable or hung up; -1 stops.
  virtual void watch(int fd, std::function<void()> ready) = 0;
  // Halt the guest's CPUs (QMP stop); false when the VM did not say it did.
  virtual bool stop_cpus() = 0;
  // Whether the guest's CPUs run (QMP query-status); false while gdb or QMP holds them.
  virtual Result<bool> cpus_running() = 0;
  // Orderly teardown (QMP quit, then signals to the process group); idempotent.
  virtual ExitStatus shutdown() = 0;
  // How the VM ended; nullopt while it runs.
  virtual std::optional<ExitStatus> exit_status() = 0;

  // The command line that started the VM.
  virtual const std::vector<std::string>& argv() const = 0;
  // What the VM process wrote on its stderr (bounded).
  virtual std::string qemu_stderr() const = 0;
  // The last lines the console printed.
  virtual const std::deque<std::string>& recent_console() const = 0;
  // Every byte the console printed, stored in console.log or not.
  virtual uint64_t console_bytes() const = 0;
  // Why writing console.log failed (e.g. "No space left on device"), or empty.
  virtual const std::string& console_log_error() const = 0;
  // The GDB stub's unix socket, or empty without a stub.
  virtual const std::filesystem::path& gdb_socket() const = 0;

  // console.log keeps the first k_max_console_log bytes; what the console printed beyond
  // is still scanned for faults, but not stored.
  static constexpr uint64_t k_max_console_log = uint64_t{64} << 20;

  std::function<void(std::string_view line)> on_console_line;
  std::function<void(std::string_view bytes)> on_console_bytes;
  std::function<void(std::string_view bytes)> on_control_bytes;
};

} // namespace labctl
