#pragma once

#include "guest/fault_scanner.h"
#include "guest/guest_protocol.h"
#include "guest/kernel_log.h"
#include "vm/artifact_folder.h"
#include "vm/guest_link.h"
#include "vm/qemu_command.h"
#include "vm/step_result.h"

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace labctl {

// Drives one booted guest over its control channel: waits for init to report the modules
// and READY, runs steps, collects the kernel log, and watches the console and /dev/kmsg for
// kernel faults the whole time.
class GuestSession {
public:
  using Clock = std::chrono::steady_clock;

  struct Config {
    QemuLaunch launch;
    ArtifactFolder artifacts; // where console.log goes
    std::string boot_nonce;
    // Modules init loads as soft dependencies: their ModuleLoad is marked optional.
    std::set<std::string> optional_modules;
  };

  using Outcome = WaitOutcome;
  static std::string describe(Outcome outcome) { return labctl::describe(outcome); }

  struct Boot {
    Outcome outcome = Outcome::ok;
    std::vector<ModuleLoad> modules;
    std::string kernel_release;
    std::string error; // for boot_report_damaged: what arrived
  };

  // Start QEMU (a QemuVm) as `config` says, its console appended to console.log.
  static Result<std::unique_ptr<GuestSession>> start(Config config);
  // A session over a VM that is already running (tests hand in a scripted one).
  static std::unique_ptr<GuestSession> over(std::unique_ptr<GuestLink> link,
                                            std::string boot_nonce);

  Boot wait_ready(Clock::time_point deadline);
  // Run one command. `deadline` is when a silent guest counts as hung; while answer bytes
  // keep arriving, waiting goes on until `hard_deadline`.
  StepResult run(const std::string& command, int timeout_seconds, Clock::time_point deadline,
                 Clock::time_point hard_deadline);
  // Ask the agent for one of its verbs (docs/protocol.md), answered like a command.
  StepResult run_verb(std::string_view verb, const std::vector<std::string>& args,
                      int timeout_seconds, Clock::time_point deadline,
                      Clock::time_point hard_deadline);
  // Read the kernel log records not yet seen (after the last step) and power off.
  void finish(Clock::time_point deadline);
  ExitStatus shutdown();

  // The phase that new faults are attributed to.
  void set_phase(RunPhase phase) { m_phase = std::move(phase); }
  const std::vector<AttributedFault>& faults() const { return m_faults; }
  // The first k_max_faults faults are kept; later ones are only counted here.
  static constexpr size_t k_max_faults = 64;
  size_t faults_dropped() const { return m_faults_dropped; }
  // The kernel log: /dev/kmsg's records (message text, one record per line), with those it
  // lost and the ones after its last record taken from the console (KernelLog).
  KernelLog::Text kernel_log() const { return m_kernel_log.complete(); }
  GuestLink& vm() { return *m_vm; }

  // Seconds since labctl started QEMU at which each milestone was reached, in order:
  // qemu_started, first_console_line, init_started, ready, (the caller's marks), qemu_exited.
  const std::vector<std::pair<std::string, double>>& timeline() const { return m_timeline; }
  void mark(const std::string& milestone);

private:
  GuestSession() = default;
  void attach(std::unique_ptr<GuestLink> link);
  Outcome wait(const std::function<bool()>& done, Clock::time_point deadline);
  StepResult request(std::string_view verb, int timeout_seconds, std::string_view command,
                     Clock::time_point deadline, Clock::time_point hard_deadline);
  void console_line(std::string_view line);
  void kmsg_records(const std::vector<std::string>& records);
  void collect(FaultScanner& scanner, bool from_kmsg);
  void settle_faults();

  std::unique_ptr<GuestLink> m_vm;
  std::string m_boot_nonce;
  std::unique_ptr<BootDecoder> m_boot;
  std::unique_ptr<ResponseDecoder> m_response;
  FaultScanner m_console_faults;
  FaultScanner m_kmsg_faults;
  std::vector<AttributedFault> m_faults;
  size_t m_faults_dropped = 0;
  std::set<std::string> m_optional_modules;
  std::map<std::string, int> m_console_titles;
  std::map<std::string, int> m_kmsg_titles;
  RunPhase m_phase;
  KernelLog m_kernel_log;
  bool m_halted = false;
  Clock::time_point m_started;
  Clock::time_point m_last_control_bytes;
  std::vector<std::pair<std::string, double>> m_timeline;
  bool m_seen_console = false;
  bool m_seen_init = false;
};

} // namespace labctl
