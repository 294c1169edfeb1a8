#pragma once

#include "config/scenario.h"
#include "core/exit_code.h"
#include "guest/guest_protocol.h"
#include "util/process.h"
#include "vm/step_result.h"

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// A problem of the run itself, not of the guest: the environment failed or a signal came.
struct RunError {
  ExitCode code = ExitCode::environment;
  std::string message;
};

// How the boot went, as far as the guest got.
struct BootObservation {
  WaitOutcome outcome = WaitOutcome::ok;
  std::string error; // for boot_report_damaged: what arrived
  std::vector<ModuleLoad> modules;
  // The boot ended by the scenario's own deadline, which came before the profile's
  // boot_timeout.
  bool ended_by_scenario_timeout = false;
  int boot_timeout = 0;             // the profile's boot_timeout, seconds
  std::string profile_file;         // where it was set; empty: the built-in default
  std::optional<KernelFault> panic; // the first panic seen by the end of the boot
  std::deque<std::string> console;  // the last console lines when the boot ended
  uint64_t console_bytes = 0;       // what the console had printed by then
  ExitStatus qemu_status;           // when QEMU had exited
  std::string qemu_stderr;
  std::string qemu_exit; // why QEMU ended, in the guest's terms (a reboot, a power-off)
};

// One step the runner ran: what came back and what the host saw around it.
struct StepObservation {
  StepResult result;
  bool scenario_deadline_passed = false; // when waiting ended, the scenario's time was up
  std::deque<std::string> console;       // for an outcome other than ok: the last lines
  std::string qemu_exit;                 // for qemu_exited: why QEMU ended
  // For qemu_exited: how the guest ended itself, as the step's faults and the console say
  // (a panic of this step; "reboot: Power down"; "reboot: Restarting system" or "sysrq:
  // Resetting"); unset when they say nothing or QEMU did not exit with status 0.
  std::optional<GuestEnd> guest_end;
};

// debugcon.txt after QEMU exited, read only when the scenario expects debugcon output.
struct DebugconObservation {
  bool disk_full = false;        // its filesystem was full: QEMU may have written part of it
  std::optional<uintmax_t> size; // absent when it could not be stat'ed
  std::string text;              // empty when larger than k_max_debugcon_compare
  std::string path;              // for the diff header
};

// Everything a run collected that decides its verdict; judge() reads nothing else. Views
// point into what the runner holds while it judges.
struct Observations {
  // The scenario does not apply to this kernel, and why ("kernels '>=6.4' excludes
  // 6.1.0-57-amd64"): nothing else was observed, and the verdict is skipped.
  std::string skip_reason;
  // The run ended before the guest booted: the artifacts folder, QEMU or the guest image
  // could not be made, or a signal came.
  std::optional<RunError> setup_error;
  // The guest was not prepared for the scenario's own reason (a module that did not build).
  std::string prepare_failure;
  std::vector<std::string> warned_modules; // module folders whose builds printed warnings
  std::optional<BootObservation> boot;     // absent: nothing booted
  std::string gdb_error;                   // attaching gdb failed
  std::vector<StepObservation> steps;      // in order; the runner stops at the first failure
  std::vector<AttributedFault> faults;     // after QEMU exited
  size_t faults_dropped = 0;               // reports beyond the kept ones
  size_t max_faults = 0;                   // how many are kept
  uint64_t console_bytes = 0;              // all the console printed
  uint64_t console_log_limit = 0;          // what console.log keeps
  std::string_view kernel_log;             // /dev/kmsg's records, its gaps filled from the console
  size_t kernel_log_lost = 0;              // records missing from both
  std::optional<std::string> trace_log;    // trace.log, when trace expectations exist
  std::string trace_log_error;             // why trace.log could not be read
  uintmax_t debugcon_bytes = 0;            // for trace counts of "debugcon_bytes"
  DebugconObservation debugcon;
  std::string artifact_error; // the first artifact that could not be written
  bool interrupted = false;   // a signal came at any time
};

// The most debugcon output labctl reads back to compare; QEMU itself writes the file.
inline constexpr uintmax_t k_max_debugcon_compare = uintmax_t{64} << 20;

} // namespace labctl
