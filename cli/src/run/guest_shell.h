#pragma once

#include "vm/guest_session.h"

#include <functional>
#include <string>
#include <unistd.h>

namespace labctl {

// Where the user is and what to tell them when a shell opens on a running guest.
struct GuestShellRequest {
  int in_fd = STDIN_FILENO;
  int out_fd = STDOUT_FILENO;
  // The start of the line printed before the shell opens, e.g. "labctl shell: console of the
  // guest (ttyS0)"; the keys to leave and the transcript's path are added to it.
  std::string intro;
  std::filesystem::path transcript; // console.log of the guest's artifacts
  bool gdb = false;                 // the guest may be held by gdb: polls ask QMP first
  // Prints labctl's lines while the terminal is not raw (before the shell starts).
  std::function<void(const std::string&)> say_line;
};

// How a shell on the guest's console ended.
struct GuestShellEnd {
  enum class How {
    left,          // Ctrl-A x, or the terminal went away
    shell_exited,  // the guest's shell exited (end of scripted input included)
    guest_stopped, // QEMU exited (the guest powered off or rebooted)
    panicked,      // QEMU exited after a kernel panic
    interrupted,   // SIGINT, SIGTERM or SIGHUP reached labctl
    not_started,   // the agent did not start the shell
  };
  How how = How::left;
  std::string text;       // "left with Ctrl-A x", "could not start the guest shell (...)", ...
  bool connected = false; // the guest's console was shown on the terminal
};

// Start a login shell on a booted guest's console (ttyS0, the agent's SHELL verb) and
// connect the user's terminal to it, in raw mode with ConsoleEscape's keys (Ctrl-A x
// leaves, Ctrl-A h help) and the window size passed on, until the shell exits, the user
// leaves, the guest stops or labctl is interrupted. The terminal is restored and the guest
// left running (the caller tears it down). Used by `labctl shell` and `labctl run
// --shell-on-failure`.
GuestShellEnd run_guest_shell(GuestSession& session, const GuestShellRequest& request);

// The one line on the keys, for Ctrl-A h and the help texts.
extern const char* const k_guest_shell_keys;

} // namespace labctl
