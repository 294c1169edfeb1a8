#pragma once

namespace labctl {

// SIGINT, SIGTERM and SIGHUP set a flag and wake poll loops through a self-pipe, so the
// code that owns a QEMU can tear it down in order instead of dying with it running.
void install_interrupt_handlers();

// The signal received, or 0.
int interrupt_signal();
inline bool interrupted() {
  return interrupt_signal() != 0;
}

// A file descriptor that becomes readable once a signal arrived (for poll()).
int interrupt_fd();

// For tests: forget a received signal.
void reset_interrupt();

} // namespace labctl
