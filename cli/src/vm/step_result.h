#pragma once

#include "guest/fault_scanner.h"
#include "guest/guest_protocol.h"

#include <cstddef>
#include <string>
#include <vector>

namespace labctl {

// How a wait for the guest ended.
// agent_died: init reported that the agent exited before it answered (it restarts it);
// exit_unknown: an answer arrived, but without the step's exit status (error says why);
// protocol_error: the answer was damaged or the channel broke (error says how);
// boot_report_damaged: init's boot report (MOD/READY lines) arrived damaged (error says
// what), so waiting for READY stops at once instead of running out the boot timeout.
enum class WaitOutcome {
  ok,
  timeout,
  qemu_exited,
  interrupted,
  protocol_error,
  agent_died,
  exit_unknown,
  boot_report_damaged
};
// "timed out", "QEMU exited", ...
std::string describe(WaitOutcome outcome);

// What a shell's exit code says beyond the number: "command not found" (127), "command not
// executable" (126), "killed by SIGKILL" (137); "" for the others.
std::string exit_code_meaning(int code);

// Where a run was: "boot" (until the first step starts), "step" (step number `step`,
// counted from 1 in the scenario's order), "shell" (run --shell-on-failure: the user's
// shell after a failure) or "shutdown".
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

// What one command did in the guest: made by GuestSession::run, judged by judge_step, kept
// by the report. Its output is moved along that path, never copied.
struct StepResult {
  int exit_code = 0; // as sh reports it (128+N when killed by signal N); -1 unknown
  std::string out;
  std::string err;
  bool timed_out = false;                // the agent killed the step at its timeout
  double seconds = 0;                    // from the request to its answer, on the host
  WaitOutcome outcome = WaitOutcome::ok; // how waiting for the answer ended
  std::string error; // for protocol_error, agent_died, exit_unknown: what happened
  StepEnd end = StepEnd::exited;
  std::vector<std::string> kmsg; // new /dev/kmsg records, "level,seq,usec,flags;text"
  size_t faults = 0;             // kernel faults attributed to this step (GuestSession::faults())

  // No answer came before the host's deadline, or the agent killed the step: either way
  // the step ran out of its time.
  bool out_of_time() const { return timed_out || outcome == WaitOutcome::timeout; }

  bool operator==(const StepResult&) const = default;
};

// How the step ended, in words for a report: "exit 0", "exit 137 (killed by SIGKILL)",
// "timed out (the agent killed it at its timeout)", or, when no exit status came back, why:
// "no answer before the host's deadline (timed out)", "the guest agent died (killed by
// signal 9; ...)", "QEMU exited".
std::string describe_end(const StepResult& step);

} // namespace labctl
