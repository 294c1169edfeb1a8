#pragma once

#include "config/scenario_module.h"
#include "core/error.h"
#include "host/kernel_locator.h"
#include "image/guest_image.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// How a step may end the guest on purpose ("ends_guest"): the kernel panics, the guest
// powers off, or it resets (QEMU runs with -no-reboot, so each of them ends QEMU).
enum class GuestEnd { panic, poweroff, reset };
// "panic", "poweroff", "reset": the names the scenario file uses.
std::string_view to_string(GuestEnd end);

// One shell command run in the guest and what its result must look like.
struct Step {
  std::string run;
  int exit_code = 0;
  // Exact comparison; one trailing newline is ignored on both sides.
  std::optional<std::string> expected_stdout;
  std::optional<std::string> expected_stderr;
  // RE2 searches in multi-line mode (^ and $ match at line ends); compiled at load time.
  std::optional<std::string> stdout_regex;
  std::optional<std::string> stderr_regex;
  int timeout = 60; // seconds
  int line = 0;     // where the step starts in the scenario file
  // The step must end the guest this way and never answer; set, it is the last step, and
  // it has no exit code or output to compare.
  std::optional<GuestEnd> ends_guest;
};

// The bytes the guest must have written to the debugcon port.
struct ExpectedDebugcon {
  std::string bytes;
  std::string label;          // the file's path, or "file:line (inline text)"
  std::filesystem::path file; // empty for inline text
};

// How many lines of QEMU's trace log (trace.log) must match a regex.
struct TraceExpectation {
  std::string regex;                 // RE2, matched against each line
  std::optional<int64_t> count;      // exactly this many lines; unset: at least one
  bool count_debugcon_bytes = false; // as many lines as debugcon.txt has bytes
  int line = 0;                      // where the entry starts in the scenario file
};

// Whole-run expectations checked after QEMU exits.
struct Expect {
  std::optional<ExpectedDebugcon> debugcon;
  std::vector<std::string> kernel_log;        // RE2, each must match somewhere
  std::vector<std::string> kernel_log_absent; // RE2, none may match
  // Fault kinds (k_fault_kinds, guest/fault_scanner.h) this scenario provokes on purpose:
  // each must occur, and faults of these kinds do not fail the scenario.
  std::vector<std::string> faults;
  std::vector<TraceExpectation> trace; // needs Scenario::trace events
};

// A scenario file (scenarios/*.json), validated: every path exists and every regex compiles.
// The format is documented in docs/scenario.md.
struct Scenario {
  std::filesystem::path file;
  std::string name; // the file's stem (its whole name when the stem is . or ..)
  std::string description;
  std::vector<ScenarioModule> modules;
  std::map<std::string, std::filesystem::path> files; // absolute guest path -> host file
  int timeout = 300; // seconds for the whole scenario, boot included
  // "warnings": "error": a module build that printed any warning fails the scenario before
  // it boots (CI's -Werror); "show" (the default) keeps them in the report only.
  bool warnings_are_errors = false;
  std::vector<Step> steps;
  Expect expect;
  std::vector<std::string> trace; // QEMU trace event patterns enabled for this scenario
  std::vector<int> trace_lines;   // where each of them is in the file, for messages
  // The kernels it applies to ("kernels": ">=6.4" or a list); unset: every kernel. A run's
  // other kernels report it skipped, with skip_reason's words.
  std::optional<KernelFilter> kernels;
};

// Why `scenario` does not apply to kernel `release` ("kernels '>=6.4' excludes
// 6.1.0-57-amd64"); empty when it applies.
std::string skip_reason(const Scenario& scenario, const std::string& release);

// Load and validate a scenario; bad input says "file:line: key 'x': problem".
Result<Scenario> load_scenario(const std::filesystem::path& file);
// The same for text already read; `file` names it in messages and anchors relative paths.
Result<Scenario> parse_scenario(const std::string& text, const std::filesystem::path& file);

// Scenario files named on the command line: a file is taken as is, a directory gives its
// *.json files sorted by name. Bad input for a missing path or a directory without any.
Result<std::vector<std::filesystem::path>>
expand_scenario_args(const std::vector<std::string>& args);

} // namespace labctl
