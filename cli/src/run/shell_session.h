#pragma once

#include "run/guest_boot.h"
#include "run/lab_setup.h"

#include <unistd.h>

namespace labctl {

// What `labctl shell` boots and where the user's terminal is.
struct ShellRequest {
  GuestRequest guest;    // modules, files, artifacts, GDB stub, trace patterns
  bool gdb_wait = false; // halt after module load until gdb continues the guest
  int in_fd = STDIN_FILENO;
  int out_fd = STDOUT_FILENO;
};

// Boot a guest with the request's modules, start a login shell on its console (ttyS0, so
// kernel messages show up as on a serial console) and connect this terminal to it until
// that shell exits or the user types Ctrl-A x. The guest is always torn down; console.log
// in the artifacts keeps the transcript. Returns the exit code: 0 when the session ended
// normally (the shell exited, Ctrl-A x, the guest powered off), 1 when the guest could not
// be brought up or died (module build failure, boot failure, kernel panic), 130 when
// interrupted. Environment problems throw FatalError.
int run_shell_session(const LabSetup& lab, const ShellRequest& request);

} // namespace labctl
