#pragma once

#include "config/scenario.h"
#include "core/error.h"

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

class Regex;

// The -trace patterns for QEMU (comma-separated): the scenario's, then the command line's.
std::string trace_patterns(const std::vector<std::string>& scenario, const std::string& extra);

// The trace event names a QEMU binary knows, one per line of `qemu -trace help`, in its
// order. Environment error when QEMU cannot be run or fails.
Result<std::vector<std::string>> qemu_trace_events(const std::string& qemu);

// Whether a -trace enable= pattern selects `event`: QEMU's glob, * any run, ? one character.
bool trace_pattern_matches(std::string_view pattern, std::string_view event);

// Why one pattern cannot go to QEMU's -trace enable=, or empty: it must be an event name or
// a glob (letters, digits, _, * and ?, an optional leading - to disable) that matches at
// least one of `events`.
std::string trace_pattern_problem(std::string_view pattern, const std::vector<std::string>& events);

// Check the --trace patterns (comma-separated) and every scenario's "trace" entries against
// the events `qemu` knows, before anything is built or booted. Bad input naming the
// pattern (and file:line for a scenario's); nothing is asked of QEMU when there are no
// patterns, nor when it is missing (prepare_lab says so).
Status check_trace_patterns(const std::string& qemu, const std::vector<Scenario>& scenarios,
                            const std::string& command_line);

// How many lines of `trace_log` (QEMU's trace output) `regex` matches somewhere in.
size_t count_trace_lines(std::string_view trace_log, const Regex& regex);

// Why the trace expectations failed, one message each; empty = passed. `debugcon_bytes` is
// the size of debugcon.txt, for counts given as "debugcon_bytes".
std::vector<std::string> judge_trace(const std::vector<TraceExpectation>& expectations,
                                     std::string_view trace_log, size_t debugcon_bytes);

} // namespace labctl
