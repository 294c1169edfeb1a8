#pragma once

#include "lab/scenario.h"

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

class Regex;

// The -trace patterns for QEMU (comma-separated): the scenario's, then the command line's.
std::string trace_patterns(const std::vector<std::string>& scenario, const std::string& extra);

// How many lines of `trace_log` (QEMU's trace output) `regex` matches somewhere in.
size_t count_trace_lines(std::string_view trace_log, const Regex& regex);

// Why the trace expectations failed, one message each; empty = passed. `debugcon_bytes` is
// the size of debugcon.txt, for counts given as "debugcon_bytes".
std::vector<std::string> judge_trace(const std::vector<TraceExpectation>& expectations,
                                     std::string_view trace_log, size_t debugcon_bytes);

// judge_trace on <artifacts>/trace.log and <artifacts>/debugcon.txt; a missing trace.log is
// a failure when there are expectations.
std::vector<std::string> judge_trace_file(const std::vector<TraceExpectation>& expectations,
                                          const std::filesystem::path& artifacts);

} // namespace labctl
