#pragma once

#include "config/scenario.h"
#include "run/lab_setup.h"
#include "run/report.h"
#include "vm/guest_session.h"

#include <filesystem>
#include <functional>
#include <string>

namespace labctl {

struct ScenarioRunOptions {
  std::filesystem::path artifacts;                  // this scenario's artifacts directory
  std::function<void(const std::string&)> progress; // "booting", "step 2/5: ..."
  bool gdb = false;      // GDB stub and gdb.script; no host deadline after boot
  bool gdb_wait = false; // halt the guest after module load until gdb continues it
  std::string trace;     // QEMU trace patterns (comma-separated) on top of the scenario's
  // After a failure (failure_stop_reason), before teardown: a shell in the guest on this
  // terminal (shell_in_failed_guest) until the user leaves. Needs stdin to be a terminal.
  bool shell_on_failure = false;
  // The scenario does not apply to the lab's kernel (skip_reason in config/scenario.h): it is
  // judged skipped with these words; nothing is built or booted and no artifacts folder made.
  std::string skip_reason;
};

// Build, pack, boot, drive and judge one scenario. Never throws for the scenario's own
// problems: they become the report's verdict ("failed", or "error" with exit code 3/130).
ScenarioReport run_scenario(const Scenario& scenario, const LabSetup& lab,
                            const ScenarioRunOptions& options);

// A fault as the reports show it: its phase, and for a step that step's number and command.
FaultReport fault_report(const AttributedFault& fault, const Scenario& scenario);

} // namespace labctl
