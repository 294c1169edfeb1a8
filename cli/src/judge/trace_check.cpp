#include "judge/trace_check.h"

#include "util/fs.h"
#include "util/process.h"
#include "util/regex.h"

#include <fmt/format.h>

#include <chrono>

namespace labctl {

namespace {

constexpr std::string_view k_event_chars = "abcdefghijklmnopqrstuvwxyz"
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789_";

} // namespace

Result<std::vector<std::string>> qemu_trace_events(const std::string& qemu) {
  auto done = run_capture({.argv = {qemu, "-trace", "help"}}, std::chrono::seconds(60));
  if (!done)
    return environment_error(done.error().message);
  if (done->timed_out || !done->status.success())
    return environment_error(
        fmt::format("{} -trace help: {}{}", qemu,
                    done->timed_out ? "no answer within 60 s" : done->status.describe(),
                    done->err.empty() ? "" : ": " + done->err));
  std::vector<std::string> events;
  size_t start = 0;
  while (start < done->out.size()) {
    size_t end = std::min(done->out.find('\n', start), done->out.size());
    std::string_view line = std::string_view(done->out).substr(start, end - start);
    start = end + 1;
    // Only event names count; anything else QEMU might print around them is not one.
    if (!line.empty() && line.find_first_not_of(k_event_chars) == std::string_view::npos)
      events.emplace_back(line);
  }
  if (events.empty())
    return environment_error(fmt::format("{} -trace help listed no trace events", qemu));
  return events;
}

bool trace_pattern_matches(std::string_view pattern, std::string_view event) {
  // Iterative glob with one backtrack point: linear enough for event names.
  size_t p = 0, e = 0, star = std::string_view::npos, resume = 0;
  while (e < event.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == event[e])) {
      ++p;
      ++e;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = e;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      e = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

std::string trace_pattern_problem(std::string_view pattern,
                                  const std::vector<std::string>& events) {
  std::string_view glob = pattern.starts_with('-') ? pattern.substr(1) : pattern;
  if (glob.empty())
    return pattern.empty() ? "an empty trace pattern" : fmt::format("'{}' names no event", pattern);
  if (glob.find_first_not_of(std::string(k_event_chars) + "*?") != std::string_view::npos)
    return fmt::format("'{}' is not a QEMU trace event name or pattern (letters, digits, _, * "
                       "and ?)",
                       pattern);
  for (const auto& event : events)
    if (trace_pattern_matches(glob, event))
      return {};
  return fmt::format("'{}' matches no trace event of this QEMU", pattern);
}

Status check_trace_patterns(const std::string& qemu, const std::vector<Scenario>& scenarios,
                            const std::string& command_line) {
  bool any = !command_line.empty();
  for (const auto& s : scenarios)
    any = any || !s.trace.empty();
  if (!any || find_program(qemu).empty())
    return ok_status();
  auto events = qemu_trace_events(qemu);
  if (!events)
    return events.error();
  constexpr std::string_view k_hint = " ('labctl run --trace help' lists the events)";
  for (const auto& s : scenarios)
    for (size_t i = 0; i < s.trace.size(); ++i)
      if (std::string problem = trace_pattern_problem(s.trace[i], *events); !problem.empty())
        return bad_input(fmt::format("{}:{}: key 'trace': {}{}", s.file.string(),
                                     i < s.trace_lines.size() ? s.trace_lines[i] : 1, problem,
                                     k_hint));
  // One -trace option per comma-separated piece (qemu_argv), so each must be a pattern: a
  // piece like "file=/x" or "a;b" must never reach QEMU's option parser.
  for (size_t start = 0;;) {
    size_t end = std::min(command_line.find(',', start), command_line.size());
    if (command_line.empty())
      break;
    std::string_view piece = std::string_view(command_line).substr(start, end - start);
    if (std::string problem = trace_pattern_problem(piece, *events); !problem.empty())
      return bad_input(fmt::format("--trace {}: {}{}", command_line, problem, k_hint));
    if (end == command_line.size())
      break;
    start = end + 1;
  }
  return ok_status();
}

std::string trace_patterns(const std::vector<std::string>& scenario, const std::string& extra) {
  std::string joined;
  for (const auto& p : scenario)
    joined += (joined.empty() ? "" : ",") + p;
  if (!extra.empty())
    joined += (joined.empty() ? "" : ",") + extra;
  return joined;
}

size_t count_trace_lines(std::string_view trace_log, const Regex& regex) {
  size_t count = 0;
  size_t from = 0;
  while (from < trace_log.size()) {
    auto match = regex.search(trace_log.substr(from));
    if (!match)
      break;
    ++count;
    // Go on at the start of the line after the match, so a line counts once.
    size_t end =
        trace_log.find('\n', from + match->offset + std::max<size_t>(match->length, 1) - 1);
    if (end == std::string_view::npos)
      break;
    from = end + 1;
  }
  return count;
}

std::vector<std::string> judge_trace(const std::vector<TraceExpectation>& expectations,
                                     std::string_view trace_log, size_t debugcon_bytes) {
  std::vector<std::string> failures;
  for (const auto& e : expectations) {
    auto regex = Regex::compile(e.regex);
    if (!regex) {
      failures.push_back(regex.error().message);
      continue;
    }
    size_t got = count_trace_lines(trace_log, *regex);
    if (e.count_debugcon_bytes) {
      if (got != debugcon_bytes)
        failures.push_back(fmt::format("trace: /{}/ matched {} lines, expected {} (the bytes in "
                                       "debugcon.txt)",
                                       e.regex, got, debugcon_bytes));
    } else if (e.count) {
      if (got != static_cast<size_t>(*e.count))
        failures.push_back(
            fmt::format("trace: /{}/ matched {} lines, expected {}", e.regex, got, *e.count));
    } else if (got == 0) {
      failures.push_back(fmt::format("trace: /{}/ matched no line of trace.log", e.regex));
    }
  }
  return failures;
}

} // namespace labctl
