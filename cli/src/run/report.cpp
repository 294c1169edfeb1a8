#include "run/report.h"

#include "util/base64.h"
#include "util/visible_bytes.h"
#include "vm/artifact_folder.h"

#include <fmt/format.h>

#include <algorithm>

namespace labctl {

namespace {

constexpr int k_json_report_version = 1;
// Step output beyond this goes to the artifacts, not into the JUnit file.
constexpr size_t k_junit_max_stream_bytes = 64 * 1024;
constexpr size_t k_explanation_max_fault_lines = 60;
constexpr size_t k_max_command_bytes = 300;
// Kernel frames with source lines shown on the terminal after the user's own.
constexpr size_t k_explanation_max_kernel_frames = 8;

// JSON strings must be UTF-8; anything else is shown with \xNN escapes.
std::string json_text(std::string_view text) {
  return is_valid_utf8(text) ? std::string(text) : printable_text(text);
}

// Command output is kept exact: as a string when it is UTF-8, else readable text plus
// the exact bytes in "<key>_base64".
void put_bytes(Json& j, const std::string& key, std::string_view bytes) {
  if (is_valid_utf8(bytes)) {
    j[key] = std::string(bytes);
    return;
  }
  j[key] = printable_text(bytes);
  j[key + "_base64"] = encode_base64(bytes);
}

Json text_array(const std::vector<std::string>& texts) {
  Json array = Json::array();
  for (const auto& t : texts)
    array.push_back(json_text(t));
  return array;
}

std::string one_line(std::string_view command) {
  if (command.size() <= k_max_command_bytes)
    return escape_bytes(command);
  return fmt::format("{} [... {} bytes]", escape_bytes(command.substr(0, k_max_command_bytes)),
                     command.size());
}

std::string indent(std::string_view text, std::string_view prefix, size_t max_lines = SIZE_MAX) {
  std::string out;
  size_t lines = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    if (lines == max_lines) {
      size_t rest = static_cast<size_t>(
                        std::count(text.begin() + static_cast<long>(start), text.end(), '\n')) +
                    (text.back() != '\n');
      out += fmt::format("{}[... {} more lines]\n", prefix, rest);
      break;
    }
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    out += fmt::format("{}{}\n", prefix, line);
    ++lines;
    start = end + 1;
  }
  return out;
}

// The terminal's word for a verdict and its ANSI color.
std::pair<std::string_view, std::string_view> verdict_tag(Verdict verdict) {
  switch (verdict) {
  case Verdict::passed:
    return {"PASS", "\x1b[32m"};
  case Verdict::failed:
    return {"FAIL", "\x1b[31m"};
  case Verdict::skipped:
    return {"SKIP", "\x1b[36m"};
  case Verdict::error:
    break;
  }
  return {"ERROR", "\x1b[1;33m"};
}

size_t count_verdict(const std::vector<ScenarioReport>& reports, Verdict verdict) {
  return static_cast<size_t>(std::count_if(reports.begin(), reports.end(),
                                           [&](const auto& r) { return r.verdict == verdict; }));
}

// The first thing that went wrong, for JUnit's one-line failure message.
std::string first_failure(const ScenarioReport& report) {
  for (size_t i = 0; i < report.steps.size(); ++i)
    if (!report.steps[i].failures.empty())
      return fmt::format("step {}: {}", i + 1, report.steps[i].failures.front());
  if (!report.failures.empty())
    return report.failures.front();
  if (!report.faults.empty())
    return fmt::format("kernel {}: {}", report.faults.front().kind, report.faults.front().title);
  return std::string(to_string(report.verdict));
}

std::string capped_stream(std::string_view bytes) {
  if (bytes.size() <= k_junit_max_stream_bytes)
    return printable_text(bytes);
  return fmt::format("{}\n[... {} more bytes; the whole output is in the artifacts]",
                     printable_text(bytes.substr(0, k_junit_max_stream_bytes)),
                     bytes.size() - k_junit_max_stream_bytes);
}

std::string junit_system_out(const ScenarioReport& report) {
  std::string out;
  if (!report.kernel.empty() || !report.accel.empty())
    out += fmt::format("kernel {}, accel {}{}\n", report.kernel, report.accel,
                       report.accel_reason.empty() ? "" : " (" + report.accel_reason + ")");
  if (!report.artifacts.empty())
    out += fmt::format("artifacts: {}\n", report.artifacts.string());
  for (size_t i = 0; i < report.steps.size(); ++i) {
    const StepReport& s = report.steps[i];
    out += fmt::format("\n$ {}\n# step {} ({}:{}): {}, {:.2f} s\n", s.command, i + 1,
                       report.file.string(), s.line, describe_end(s.result), s.result.seconds);
    for (const auto& [label, bytes] :
         {std::pair{"stdout", &s.result.out}, std::pair{"stderr", &s.result.err}}) {
      if (bytes->empty())
        continue;
      std::string text = capped_stream(*bytes);
      out += fmt::format("--- {}\n{}{}", label, text, text.back() == '\n' ? "" : "\n");
    }
  }
  return out;
}

} // namespace

int suite_exit_code(const std::vector<ScenarioReport>& reports) {
  int code = 0;
  for (const auto& r : reports)
    code = std::max(code, r.exit_code);
  return code;
}

std::string xml_escape(std::string_view text, bool attribute) {
  std::string safe = printable_text(text);
  std::string out;
  out.reserve(safe.size() + safe.size() / 16);
  for (char c : safe) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&apos;";
      break;
    case '\r': // a parser would turn a literal CR into LF
      out += "&#13;";
      break;
    case '\n':
      out += attribute ? "&#10;" : "\n";
      break;
    case '\t':
      out += attribute ? "&#9;" : "\t";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string junit_xml(const std::vector<ScenarioReport>& reports) {
  double total = 0;
  size_t skipped_steps = 0;
  for (const auto& r : reports) {
    total += r.seconds;
    skipped_steps += r.skipped_steps.size();
  }
  std::string counts = fmt::format(
      R"(tests="{}" failures="{}" errors="{}" time="{:.3f}")", reports.size() + skipped_steps,
      count_verdict(reports, Verdict::failed), count_verdict(reports, Verdict::error), total);
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += fmt::format("<testsuites name=\"labctl\" {}>\n", counts);
  xml += fmt::format("  <testsuite name=\"labctl\" {} skipped=\"{}\">\n", counts,
                     count_verdict(reports, Verdict::skipped) + skipped_steps);
  for (const auto& r : reports) {
    xml += fmt::format(R"(    <testcase classname="labctl" name="{}" file="{}" time="{:.3f}">)",
                       xml_escape(r.name, true), xml_escape(r.file.string(), true), r.seconds);
    xml += "\n";
    if (r.verdict == Verdict::skipped) {
      xml += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(r.skip_reason, true));
    } else if (r.verdict != Verdict::passed) {
      const char* element = r.verdict == Verdict::error ? "error" : "failure";
      xml += fmt::format("      <{} message=\"{}\" type=\"{}\">{}</{}>\n", element,
                         xml_escape(first_failure(r), true), to_string(r.verdict),
                         xml_escape(failure_explanation(r), false), element);
    }
    if (std::string out = junit_system_out(r); !out.empty())
      xml += fmt::format("      <system-out>{}</system-out>\n", xml_escape(out, false));
    xml += "    </testcase>\n";
    for (size_t i = 0; i < r.skipped_steps.size(); ++i) {
      const SkippedStepReport& s = r.skipped_steps[i];
      xml += fmt::format(
          R"(    <testcase classname="labctl.{}" name="step {}: {}" file="{}" time="0.000">)",
          xml_escape(r.name, true), r.steps.size() + i + 1, xml_escape(one_line(s.command), true),
          xml_escape(r.file.string(), true));
      xml += fmt::format("\n      <skipped message=\"not run: {}\"/>\n    </testcase>\n",
                         xml_escape(s.reason, true));
    }
  }
  xml += "  </testsuite>\n</testsuites>\n";
  return xml;
}

Json to_json(const ScenarioReport& r) {
  Json steps = Json::array();
  for (const auto& s : r.steps) {
    Json step = {{"command", json_text(s.command)},     {"line", s.line},
                 {"exit_code", s.result.exit_code},     {"seconds", s.result.seconds},
                 {"timed_out", s.result.out_of_time()}, {"failures", text_array(s.failures)}};
    put_bytes(step, "stdout", s.result.out);
    put_bytes(step, "stderr", s.result.err);
    steps.push_back(std::move(step));
  }
  Json skipped_steps = Json::array();
  for (const auto& s : r.skipped_steps)
    skipped_steps.push_back(
        {{"command", json_text(s.command)}, {"line", s.line}, {"reason", json_text(s.reason)}});
  Json faults = Json::array();
  for (const auto& f : r.faults) {
    Json frames = Json::array();
    for (const auto& frame : f.frames) {
      Json source = Json::array();
      for (const auto& s : frame.source)
        source.push_back({{"function", json_text(s.function)},
                          {"file", json_text(s.file)},
                          {"line", s.line},
                          {"column", s.column}});
      frames.push_back({{"frame", json_text(frame.frame.text)},
                        {"function", json_text(frame.frame.function)},
                        {"offset", frame.frame.offset},
                        {"size", frame.frame.size},
                        {"module", json_text(frame.frame.module)},
                        {"exact", frame.frame.exact},
                        {"reliable", frame.frame.reliable},
                        {"user", frame.user},
                        {"source", std::move(source)}});
    }
    faults.push_back({{"kind", f.kind},
                      {"title", json_text(f.title)},
                      {"report", json_text(f.report)},
                      {"phase", f.phase},
                      {"step_index", f.step_index > 0 ? Json(f.step_index) : Json(nullptr)},
                      {"step", json_text(f.step)},
                      {"frames", std::move(frames)}});
  }
  // An array of [milestone, seconds] pairs keeps the milestones in the order they happened.
  Json timeline = Json::array();
  for (const auto& [milestone, seconds] : r.timeline)
    timeline.push_back(Json::array({milestone, seconds}));
  Json warnings = Json::array();
  for (const auto& [folder, text] : r.build_warnings)
    warnings.push_back({{"module", json_text(folder)}, {"warnings", json_text(text)}});
  Json packages = Json::array();
  for (const auto& p : r.dkms_packages)
    packages.push_back({{"module", json_text(p.module)},
                        {"package", json_text(p.package)},
                        {"version", json_text(p.version)}});
  return {{"name", json_text(r.name)},
          {"file", json_text(r.file.string())},
          {"verdict", std::string(to_string(r.verdict))},
          {"exit_code", r.exit_code},
          {"skip_reason", json_text(r.skip_reason)},
          {"seconds", r.seconds},
          {"kernel", json_text(r.kernel)},
          {"kernel_image", json_text(r.kernel_image.string())},
          {"accel", r.accel},
          {"accel_reason", json_text(r.accel_reason)},
          {"artifacts", json_text(r.artifacts.string())},
          {"failures", text_array(r.failures)},
          {"steps", std::move(steps)},
          {"skipped_steps", std::move(skipped_steps)},
          {"kernel_log_lost", r.kernel_log_lost},
          {"faults", std::move(faults)},
          {"debugcon_diff", json_text(r.debugcon_diff)},
          {"timeline", timeline},
          {"build_warnings", std::move(warnings)},
          {"dkms_packages", std::move(packages)}};
}

Json to_json(const std::vector<ScenarioReport>& reports) {
  Json scenarios = Json::array();
  double total = 0;
  for (const auto& r : reports) {
    scenarios.push_back(to_json(r));
    total += r.seconds;
  }
  return {{"version", k_json_report_version},
          {"exit_code", suite_exit_code(reports)},
          {"summary",
           {{"total", reports.size()},
            {"passed", count_verdict(reports, Verdict::passed)},
            {"failed", count_verdict(reports, Verdict::failed)},
            {"errors", count_verdict(reports, Verdict::error)},
            {"skipped", count_verdict(reports, Verdict::skipped)},
            {"seconds", total}}},
          {"scenarios", std::move(scenarios)}};
}

std::string json_report(const std::vector<ScenarioReport>& reports) {
  return to_json(reports).dump(2) + "\n";
}

std::string terminal_summary_line(const ScenarioReport& report, bool color) {
  auto [word, ansi] = verdict_tag(report.verdict);
  std::string tag(word);
  std::string padding(5 - tag.size() + 1, ' ');
  if (color)
    tag = fmt::format("{}{}\x1b[0m", ansi, tag);
  if (report.verdict == Verdict::skipped)
    return fmt::format("{}{}{}  ({})", tag, padding, escape_bytes(report.name),
                       printable_text(report.skip_reason));
  return fmt::format("{}{}{}  ({:.1f} s)", tag, padding, escape_bytes(report.name), report.seconds);
}

std::string build_warnings_text(const ScenarioReport& report) {
  std::string out;
  for (const auto& [folder, text] : report.build_warnings)
    out += fmt::format("  module {} built with warnings:\n", escape_bytes(folder)) +
           indent(printable_text(text), "    | ");
  return out;
}

namespace {

namespace fs = std::filesystem;

// A source file as the terminal shows it: below the current folder, relative to it.
std::string shown_path(const std::string& file) {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (ec || !fs::path(file).is_absolute())
    return file;
  fs::path rel = fs::path(file).lexically_proximate(cwd);
  return rel.empty() || *rel.begin() == ".." ? file : rel.string();
}

std::string frame_lines(const FaultFrame& f, std::string_view prefix, bool relative) {
  if (f.source.empty())
    return fmt::format("{}{}  (no source line)\n", prefix, printable_text(f.frame.text));
  std::string out;
  for (size_t i = 0; i < f.source.size(); ++i) {
    const SourceLocation& s = f.source[i];
    std::string where = fmt::format("{}:{}", relative ? shown_path(s.file) : s.file, s.line);
    if (i + 1 < f.source.size())
      out += fmt::format("{}{}  {} (inlined into {})\n", prefix, printable_text(s.function),
                         printable_text(where), printable_text(f.source[i + 1].function));
    else
      out += fmt::format("{}{}  {}  ({})\n", prefix, printable_text(s.function),
                         printable_text(where), printable_text(f.frame.text));
  }
  return out;
}

} // namespace

std::string fault_source_lines(const FaultReport& fault, std::string_view prefix,
                               size_t max_kernel_frames, bool relative) {
  std::string out;
  for (const auto& f : fault.frames)
    if (f.user && f.frame.reliable)
      out += frame_lines(f, prefix, relative);
  size_t kernel = 0;
  for (const auto& f : fault.frames)
    if (!f.user && f.frame.reliable && !f.source.empty() && kernel++ < max_kernel_frames)
      out += frame_lines(f, prefix, relative);
  return out;
}

bool has_source_lines(const FaultReport& fault) {
  return std::any_of(fault.frames.begin(), fault.frames.end(),
                     [](const FaultFrame& frame) { return !frame.source.empty(); });
}

std::string notes_text(const ScenarioReport& report) {
  if (report.kernel_log_lost == 0)
    return {};
  return fmt::format("  kernel log: {} records lost (the kernel's ring buffer overwrote them "
                     "before /dev/kmsg was read, and the console did not print them)\n",
                     report.kernel_log_lost);
}

std::string failure_explanation(const ScenarioReport& report) {
  if (report.verdict == Verdict::passed || report.verdict == Verdict::skipped)
    return {};
  std::string out = fmt::format("{} ({}) {}:\n", escape_bytes(report.name), report.file.string(),
                                report.verdict == Verdict::error ? "could not run" : "failed");
  for (size_t i = 0; i < report.steps.size(); ++i) {
    const StepReport& s = report.steps[i];
    if (s.failures.empty())
      continue;
    out += fmt::format("  step {} at {}:{}: {}\n", i + 1, report.file.string(), s.line,
                       one_line(s.command));
    for (const auto& f : s.failures)
      out += indent(printable_text(f), "    ");
  }
  if (!report.skipped_steps.empty()) {
    out += fmt::format("  not run ({}):\n", printable_text(report.skipped_steps.front().reason));
    for (size_t i = 0; i < report.skipped_steps.size(); ++i) {
      const SkippedStepReport& s = report.skipped_steps[i];
      out += fmt::format("    step {} at {}:{}: {}\n", report.steps.size() + i + 1,
                         report.file.string(), s.line, one_line(s.command));
    }
  }
  for (const auto& f : report.failures)
    out += indent(printable_text(f), "  ");
  for (const auto& f : report.faults) {
    std::string where = "during " + f.phase;
    if (f.step_index > 0 && static_cast<size_t>(f.step_index) <= report.steps.size())
      where = fmt::format("during step {} (`{}`, {}:{})", f.step_index, one_line(f.step),
                          report.file.string(),
                          report.steps[static_cast<size_t>(f.step_index) - 1].line);
    out += fmt::format("  kernel {} {}: {}\n", f.kind, where, printable_text(f.title));
    // The user's own lines first; the raw report only when no frame has a source line.
    if (has_source_lines(f))
      out += fault_source_lines(f, "    ", k_explanation_max_kernel_frames, true);
    else
      out += indent(printable_text(f.report), "    | ", k_explanation_max_fault_lines);
    if (!report.artifacts.empty())
      out += fmt::format("    full report: {}\n",
                         (report.artifacts / ArtifactFolder::name(Artifact::faults)).string());
  }
  if (!report.debugcon_diff.empty()) {
    out += "  debugcon output differs from the expected bytes:\n";
    out += indent(report.debugcon_diff, "    ");
  }
  if (!report.kernel.empty() || !report.accel.empty())
    out += fmt::format("  kernel {}, accel {}{}\n", report.kernel, report.accel,
                       report.accel_reason.empty() ? "" : " (" + report.accel_reason + ")");
  if (!report.artifacts.empty())
    out += fmt::format("  artifacts: {}\n", report.artifacts.string());
  return out;
}

} // namespace labctl
