#pragma once

#include "config/scenario.h"
#include "judge/observations.h"
#include "vm/artifact_folder.h"
#include "vm/guest_session.h"

#include <optional>
#include <string>
#include <vector>

namespace labctl {

// Why `labctl run --shell-on-failure` stops in the guest, from what the run saw up to the
// end of its steps; nullopt when nothing failed. The first of: the guest did not boot, a
// module did not load, gdb could not attach, a step failed (judge_step's first message, or
// how its wait ended: timed out, QEMU exited, ...), a kernel fault the scenario does not
// list in expect.faults. Pure: the verdict itself is still the judge's, after teardown.
std::optional<std::string> failure_stop_reason(const Scenario& scenario, const Observations& seen,
                                               const std::vector<AttributedFault>& faults);

// A guest that failed, as the runner holds it before teardown.
struct FailedGuest {
  std::string scenario; // its name, as the report says it
  std::string why;      // failure_stop_reason's words
  // The guest answered its last request: a step that timed out on the host, a dead agent
  // or a damaged answer leave a guest that cannot start a shell.
  bool responsive = true;
  const ArtifactFolder& artifacts;
  bool gdb = false; // the guest has a GDB stub (gdb.script is in the artifacts once written)
};

// Print one line saying why and how to leave, then hand the terminal (stdin, stdout) to a
// shell in the guest as the failure left it (run_guest_shell: the keys of `labctl shell`)
// until the user leaves. When no shell is possible (the kernel panicked, QEMU exited, the
// guest does not answer) the line says so and this returns at once. The guest is left
// running for the runner's teardown.
void shell_in_failed_guest(GuestSession& session, const FailedGuest& guest);

} // namespace labctl
