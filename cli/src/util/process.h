#pragma once

#include "util/result.h"

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace labctl {

// How one of a child's standard streams is connected.
enum class Stream { inherit, pipe, null };

// Everything needed to start a child: an argv, never a shell string.
struct ProcessSpec {
  std::vector<std::string> argv;
  std::filesystem::path cwd;                            // empty: inherit
  std::vector<std::pair<std::string, std::string>> env; // added to the inherited environment
  Stream in = Stream::null;
  Stream out = Stream::pipe;
  Stream err = Stream::pipe;
  bool merge_stderr = false;      // stderr goes where stdout goes
  bool own_process_group = false; // setpgid(0, 0) in the child, so the group can be killed
  bool die_with_parent = false;   // SIGKILL the child if labctl dies (even by SIGKILL)
};

// How a child ended.
struct ExitStatus {
  int code = -1;  // exit code, or -1 when killed by a signal
  int signal = 0; // the terminating signal, or 0
  bool success() const { return code == 0; }
  std::string describe() const;
};

// A running child. The owner must wait() for it; if it is destroyed while the child still
// runs, the child (and its process group when it has one) is killed and reaped.
class Process {
public:
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return m_pid; }
  int stdin_fd() const { return m_in; }
  int stdout_fd() const { return m_out; }
  int stderr_fd() const { return m_err; }
  void close_stdin();

  // The exit status if the child has ended, without blocking.
  std::optional<ExitStatus> try_wait();
  ExitStatus wait();
  // Wait at most `timeout`; nullopt when it still runs.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  // Send a signal to the child's process group (or the child alone without one).
  void signal(int sig);
  // End the child and its whole process group: SIGTERM, then SIGKILL to the group once the
  // child has exited or `grace` has passed (whatever of the group ignored SIGTERM dies too),
  // then reap it.
  ExitStatus terminate(std::chrono::milliseconds grace);
  bool exited() const { return m_status.has_value(); }

private:
  friend util::Result<std::unique_ptr<Process>> spawn(const ProcessSpec& spec);
  Process() = default;

  pid_t m_pid = -1;
  bool m_group = false;
  int m_in = -1, m_out = -1, m_err = -1;
  std::optional<ExitStatus> m_status;
};

// Start a child; the error says which program could not be started and why.
// Logs the shell-quoted command line at debug level.
util::Result<std::unique_ptr<Process>> spawn(const ProcessSpec& spec);

// What a finished command printed and how it ended.
struct Completed {
  ExitStatus status;
  std::string out;
  std::string err;
  bool timed_out = false;
  bool interrupted = false; // SIGINT, SIGTERM or SIGHUP reached labctl (util/interrupt.h)
};

// How long an interrupted child's group gets between SIGTERM and SIGKILL.
constexpr std::chrono::milliseconds k_terminate_grace{2000};

// Run to completion, feeding `input` to stdin and collecting stdout/stderr; after `timeout`
// the child's group is killed and timed_out is set. An interrupt (util/interrupt.h) ends the
// wait at once: the group is terminated (Process::terminate) and interrupted is set. A
// command asked for after an interrupt is not started: a Failure with errno EINTR.
util::Result<Completed> run_capture(ProcessSpec spec, std::chrono::milliseconds timeout,
                                    std::string input = {});

// Search PATH like execvp would; empty when not found.
std::filesystem::path find_program(const std::string& name);

} // namespace labctl
