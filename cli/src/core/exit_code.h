#pragma once

namespace labctl {

// The process exit codes labctl documents in README.md and --help.
enum class ExitCode : int {
  passed = 0,      // every scenario passed
  failed = 1,      // a scenario failed: step, expectation, diff, fault, timeout, build, insmod
  bad_input = 2,   // usage error, invalid scenario/profile, missing file
  environment = 3, // QEMU, kernel, headers or busybox missing or unusable
  interrupted = 130,
};

inline int to_int(ExitCode code) {
  return static_cast<int>(code);
}

} // namespace labctl
