#include "lab/trace_check.h"

#include "util/fs.h"
#include "util/regex.h"

#include <fmt/format.h>

namespace labctl {

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

std::vector<std::string> judge_trace_file(const std::vector<TraceExpectation>& expectations,
                                          const fs::path& artifacts) {
  if (expectations.empty())
    return {};
  auto log = read_file(artifacts / "trace.log");
  if (!log)
    return {"trace: " + log.error().message};
  std::error_code ec;
  auto debugcon_bytes = fs::file_size(artifacts / "debugcon.txt", ec);
  return judge_trace(expectations, *log, ec ? 0 : static_cast<size_t>(debugcon_bytes));
}

} // namespace labctl
