#pragma once

#include "guest/fault_scanner.h"
#include "guest/guest_protocol.h"
#include "vm/qemu_vm.h"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace labctl {

// Where a run was: "boot" (until the first step starts), "step" (step number `step`,
// counted from 1 in the scenario's order) or "shutdown".
struct RunPhase {
  std::string name = "boot";
  int step = 0; // for "step" only

  bool operator==(const RunPhase&) const = default;
};

// A kernel fault together with the phase of the run it happened in.
struct AttributedFault {
  KernelFault fault;
  RunPhase phase;
};

// Drives one booted guest over its control channel: waits for init to report the modules
// and READY, runs steps, collects the kernel log, and watches the console and /dev/kmsg for
// kernel faults the whole time.
class GuestSession {
public:
  using Clock = std::chrono::steady_clock;

  struct Config {
    QemuLaunch launch;
    std::filesystem::path console_log;
    std::string boot_nonce;
  };

  // How a wait ended.
  // agent_died: init reported that the agent exited before it answered (it restarts it);
  // exit_unknown: an answer arrived, but without the step's exit status (error says why);
  // protocol_error: the answer was damaged or the channel broke (error says how);
  // boot_report_damaged: init's boot report (MOD/READY lines) arrived damaged (error says
  // what), so waiting for READY stops at once instead of running out the boot timeout.
  enum class Outcome {
    ok,
    timeout,
    qemu_exited,
    interrupted,
    protocol_error,
    agent_died,
    exit_unknown,
    boot_report_damaged
  };
  static std::string describe(Outcome outcome);

  struct Boot {
    Outcome outcome = Outcome::ok;
    std::vector<ModuleLoad> modules;
    std::string kernel_release;
    std::string error; // for boot_report_damaged: what arrived
  };

  struct Step {
    Outcome outcome = Outcome::ok;
    StepOutput output;
    std::string error; // for protocol_error, agent_died, exit_unknown: what happened
    double seconds = 0;
  };

  static Result<std::unique_ptr<GuestSession>> start(Config config);

  Boot wait_ready(Clock::time_point deadline);
  // Run one command. `deadline` is when a silent guest counts as hung; while answer bytes
  // keep arriving, waiting goes on until `hard_deadline`.
  Step run(const std::string& command, int timeout_seconds, Clock::time_point deadline,
           Clock::time_point hard_deadline);
  // Ask the agent for one of its verbs (docs/protocol.md), answered like a command.
  Step run_verb(std::string_view verb, const std::vector<std::string>& args, int timeout_seconds,
                Clock::time_point deadline, Clock::time_point hard_deadline);
  // Read the kernel log records not yet seen (after the last step) and power off.
  void finish(Clock::time_point deadline);
  ExitStatus shutdown();

  // The phase that new faults are attributed to.
  void set_phase(RunPhase phase) { m_phase = std::move(phase); }
  const std::vector<AttributedFault>& faults() const { return m_faults; }
  // The first k_max_faults faults are kept; later ones are only counted here.
  static constexpr size_t k_max_faults = 64;
  size_t faults_dropped() const { return m_faults_dropped; }
  // The kernel log as read from /dev/kmsg (message text, one record per line).
  const std::string& kernel_log() const { return m_kernel_log; }
  QemuVm& vm() { return *m_vm; }

  // Seconds since labctl started QEMU at which each milestone was reached, in order:
  // qemu_started, first_console_line, init_started, ready, (the caller's marks), qemu_exited.
  const std::vector<std::pair<std::string, double>>& timeline() const { return m_timeline; }
  void mark(const std::string& milestone);

private:
  GuestSession() = default;
  Outcome wait(const std::function<bool()>& done, Clock::time_point deadline);
  Step request(std::string_view verb, int timeout_seconds, std::string_view command,
               Clock::time_point deadline, Clock::time_point hard_deadline);
  void console_line(std::string_view line);
  void kmsg_records(const std::vector<std::string>& records);
  void collect(FaultScanner& scanner, bool from_kmsg);

  std::unique_ptr<QemuVm> m_vm;
  std::string m_boot_nonce;
  std::unique_ptr<BootDecoder> m_boot;
  std::unique_ptr<ResponseDecoder> m_response;
  FaultScanner m_console_faults;
  FaultScanner m_kmsg_faults;
  std::vector<AttributedFault> m_faults;
  size_t m_faults_dropped = 0;
  std::map<std::string, int> m_console_titles;
  std::map<std::string, int> m_kmsg_titles;
  RunPhase m_phase;
  std::string m_kernel_log;
  bool m_halted = false;
  Clock::time_point m_started;
  Clock::time_point m_last_control_bytes;
  std::vector<std::pair<std::string, double>> m_timeline;
  bool m_seen_console = false;
  bool m_seen_init = false;
};

} // namespace labctl
