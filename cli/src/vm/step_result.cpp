#include "vm/step_result.h"

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

} // namespace labctl
