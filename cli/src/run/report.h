#pragma once

#include "build/symbolizer.h"
#include "core/error.h"
#include "guest/stack_frame.h"
#include "judge/verdict.h"
#include "util/json_document.h"
#include "vm/step_result.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// One step: what the scenario asked, what it did and why it failed (failures empty: it
// passed).
struct StepReport {
  std::string command;
  int line = 0; // the step's line in the scenario file
  StepResult result;
  std::vector<std::string> failures;

  bool operator==(const StepReport&) const = default;
};

// One frame of a fault report and where its address lies in the source.
struct FaultFrame {
  StackFrame frame;
  // Innermost first, each inlined into the next (Symbolizer::resolve); empty: unresolved
  // (a kernel frame without a debug vmlinux, a module without debug info, garbage).
  std::vector<SourceLocation> source;
  bool user = false; // in a module the scenario built (not the kernel or its own modules)

  bool operator==(const FaultFrame&) const = default;
};

// A step of the scenario that did not run, and why ("step 2 failed").
struct SkippedStepReport {
  std::string command;
  int line = 0; // the step's line in the scenario file
  std::string reason;

  bool operator==(const SkippedStepReport&) const = default;
};

// A kernel fault found on the console.
struct FaultReport {
  std::string kind;   // one of k_fault_kinds
  std::string title;  // headline, e.g. "BUG: kernel NULL pointer dereference, address: 0"
  std::string report; // the whole report, call trace included
  std::string phase;  // "boot" (before the first step), "step", "shell" or "shutdown"
  int step_index = 0; // for phase "step": the step's number, from 1 (ScenarioReport::steps)
  std::string step;   // for phase "step": that step's command; else empty
  std::vector<FaultFrame> frames; // every frame of the report, in its order

  bool operator==(const FaultReport&) const = default;
};

// A DKMS module folder of a scenario and the package its dkms.conf names.
struct DkmsPackageReport {
  std::string module; // the folder, as the scenario names it
  std::string package;
  std::string version;

  bool operator==(const DkmsPackageReport&) const = default;
};

// The outcome of one scenario, everything the terminal, JUnit and JSON reports show.
struct ScenarioReport {
  std::string name;
  std::filesystem::path file;
  Verdict verdict = Verdict::passed;
  int exit_code = 0;       // what this scenario alone would make labctl exit with
  std::string skip_reason; // for Verdict::skipped: why it does not apply (else empty)
  double seconds = 0;
  std::vector<StepReport> steps;
  std::vector<SkippedStepReport> skipped_steps; // the steps after those that ran, in order
  std::vector<std::string> failures; // beyond the steps: kernel log, debugcon, faults, errors
  std::vector<FaultReport> faults;
  std::string debugcon_diff; // unified diff, empty when debugcon matched or was not checked
  std::filesystem::path artifacts;
  std::string accel;
  std::string accel_reason;
  std::string kernel;                 // the release, e.g. "6.1.0-56-amd64"; empty if unknown
  std::filesystem::path kernel_image; // the image labctl chose to boot (/boot/vmlinuz-V)
  // Seconds from QEMU's start to each milestone (qemu_started, first_console_line,
  // init_started, ready, steps_done, qemu_exited), in order; empty when nothing booted.
  std::vector<std::pair<std::string, double>> timeline;
  // Compiler and modpost warnings of the module builds, per folder (built cleanly: absent).
  std::vector<std::pair<std::string, std::string>> build_warnings; // folder, warnings
  std::vector<DkmsPackageReport> dkms_packages; // the scenario's DKMS folders, in its order
  size_t kernel_log_lost = 0; // kernel log records missing from both /dev/kmsg and the console

  bool operator==(const ScenarioReport&) const = default;
};

// The exit code for a whole run: the highest of the scenarios' (130 > 3 > 2 > 1 > 0).
int suite_exit_code(const std::vector<ScenarioReport>& reports);

// JUnit XML: one <testsuite name="labctl"> with a <testcase> per scenario; failures and
// errors carry failure_explanation, a skipped one <skipped message="reason"/>, steps and
// their output go to <system-out>. Each step that did not run is a testcase of its own
// (classname "labctl.<scenario>", name "step N: command") with <skipped message="reason"/>.
std::string junit_xml(const std::vector<ScenarioReport>& reports);

// The --json report; its schema is documented in docs/report-json.md.
Json to_json(const ScenarioReport& report);
Json to_json(const std::vector<ScenarioReport>& reports);
std::string json_report(const std::vector<ScenarioReport>& reports);

// "PASS  debugcon  (4.2 s)", "FAIL  ...", "ERROR ...", "SKIP  debugcon  (reason)"; ANSI
// colors when `color`.
std::string terminal_summary_line(const ScenarioReport& report, bool color);

// The build warnings of each module folder, under a "module DIR built with warnings:" line,
// for the terminal after the scenario's summary line, whatever its verdict. Empty when every
// folder built cleanly.
std::string build_warnings_text(const ScenarioReport& report);

// Notes on a scenario of any verdict, for the terminal after its summary line: kernel log
// records that were lost. Empty when there is nothing to say.
std::string notes_text(const ScenarioReport& report);

// The user's modules' frames (without a source line: "    f+0x1/0x2 [m]  (no source line)"),
// then the kernel's that have source lines, one line per source position:
// "    hidden_write  /x/drv/x.c:42 (inlined into hidden_ioctl)", the function's own line
// ending with the frame as printed. Empty when no user frame and no resolved kernel frame.
// `max_kernel_frames` caps the kernel's; `relative` shows files below the current folder relative
// to it (the terminal).
std::string fault_source_lines(const FaultReport& fault, std::string_view prefix,
                               size_t max_kernel_frames = SIZE_MAX, bool relative = false);

// True when some frame of `fault` was resolved to a source line.
bool has_source_lines(const FaultReport& fault);

// Several lines saying why a scenario did not pass: each failing step (command and
// file:line) with expected vs got, the steps that did not run, other failures, each fault
// (its headline, then its frames with source lines, or the raw report when no frame has one,
// then where faults.txt is), the debugcon diff, and where the artifacts are. Empty for a
// passed scenario.
std::string failure_explanation(const ScenarioReport& report);

// Text made safe for XML 1.0 (characters it forbids shown as \xNN) and escaped for element
// content, or for an attribute value when `attribute`.
std::string xml_escape(std::string_view text, bool attribute);

} // namespace labctl
