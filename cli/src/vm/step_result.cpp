#include "vm/step_result.h"

#include <fmt/format.h>

#include <cstring>

namespace labctl {

std::string describe(WaitOutcome outcome) {
  switch (outcome) {
  case WaitOutcome::ok:
    return "ok";
  case WaitOutcome::timeout:
    return "timed out";
  case WaitOutcome::qemu_exited:
    return "QEMU exited";
  case WaitOutcome::interrupted:
    return "interrupted";
  case WaitOutcome::protocol_error:
    return "control channel error";
  case WaitOutcome::agent_died:
    return "the guest agent died";
  case WaitOutcome::exit_unknown:
    return "no exit status";
  case WaitOutcome::boot_report_damaged:
    return "the boot report was damaged";
  }
  return "?";
}

std::string exit_code_meaning(int code) {
  if (code == 126)
    return "command not executable";
  if (code == 127)
    return "command not found";
  if (code > 128 && code < 128 + 65) {
    const char* name = sigabbrev_np(code - 128);
    return name ? fmt::format("killed by SIG{}", name)
                : fmt::format("killed by signal {}", code - 128);
  }
  return {};
}

std::string describe_end(const StepResult& step) {
  if (step.timed_out)
    return "timed out (the agent killed it at its timeout)";
  if (step.outcome == WaitOutcome::ok) {
    std::string meaning = exit_code_meaning(step.exit_code);
    return meaning.empty() ? fmt::format("exit {}", step.exit_code)
                           : fmt::format("exit {} ({})", step.exit_code, meaning);
  }
  if (step.outcome == WaitOutcome::timeout)
    return "no answer before the host's deadline (timed out)";
  // The error of the other outcomes is a sentence of its own ("the guest agent died (killed
  // by signal 9; ...)"); a damaged answer's says only what was wrong with it.
  if (step.error.empty())
    return describe(step.outcome);
  if (step.outcome == WaitOutcome::protocol_error)
    return fmt::format("{}: {}", describe(step.outcome), step.error);
  return step.error;
}

} // namespace labctl
