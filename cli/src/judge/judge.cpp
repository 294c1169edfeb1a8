#include "judge/judge.h"

#include "util/regex.h"
#include "util/visible_bytes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace labctl {

namespace {

std::string_view without_one_newline(std::string_view s) {
  if (!s.empty() && s.back() == '\n')
    s.remove_suffix(1);
  return s;
}

std::string exit_code_hint(int code) {
  std::string meaning = exit_code_meaning(code);
  return meaning.empty() ? meaning : " (" + meaning + ")";
}

// What a stream's mismatch is shown with: the other stream and the exit code, so that the
// reason a command printed nothing ("No such device") is in the same message.
std::string other_stream(const char* stream, const StepResult& run) {
  bool is_stdout = std::strcmp(stream, "stdout") == 0;
  const std::string& other = is_stdout ? run.err : run.out;
  return fmt::format("; {} {}; exit code {}{}", is_stdout ? "stderr" : "stdout",
                     other.empty() ? "empty" : "was " + quote_excerpt(other), run.exit_code,
                     exit_code_hint(run.exit_code));
}

void compare_exact(std::vector<std::string>& failures, const char* stream,
                   const std::string& expected, std::string_view got, const StepResult& run) {
  std::string_view want = without_one_newline(expected);
  std::string_view have = without_one_newline(got);
  if (want == have)
    return;
  size_t diff =
      std::mismatch(want.begin(), want.end(), have.begin(), have.end()).first - want.begin();
  std::string message = fmt::format("{}: expected {}, got {}", stream, quote_excerpt(want, diff),
                                    quote_excerpt(have, diff));
  if (want.size() > 200 || have.size() > 200)
    message += fmt::format(" (first difference at byte {})", diff);
  failures.push_back(message + other_stream(stream, run));
}

void search(std::vector<std::string>& failures, const char* stream, const std::string& pattern,
            std::string_view got, const StepResult& run) {
  auto re = Regex::compile(pattern);
  if (!re) {
    failures.push_back(
        fmt::format("{}_regex /{}/: bad regex: {}", stream, pattern, re.error().message));
    return;
  }
  if (re->matches(got))
    return;
  failures.push_back(fmt::format("{}_regex /{}/ did not match; {} was {}{}", stream, pattern,
                                 stream, got.empty() ? "empty" : quote_excerpt(got),
                                 other_stream(stream, run)));
}

std::string last_output(const StepResult& run) {
  std::string out;
  if (!run.out.empty())
    out += fmt::format("; last stdout: {}", quote_excerpt(run.out, run.out.size()));
  if (!run.err.empty())
    out += fmt::format("; last stderr: {}", quote_excerpt(run.err, run.err.size()));
  return out.empty() ? "; no output" : out;
}

// Serial consoles end lines with CRLF; regexes are written for LF.
std::string normalize_line_ends(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i)
    if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n'))
      out += text[i];
  return out;
}

} // namespace

std::string join_lines(const std::deque<std::string>& lines, size_t last) {
  std::string out;
  size_t start = lines.size() > last ? lines.size() - last : 0;
  for (size_t i = start; i < lines.size(); ++i)
    out += "  | " + lines[i] + "\n";
  return out;
}

std::string quote_excerpt(std::string_view text, size_t from, size_t limit) {
  if (text.size() <= limit)
    return fmt::format("\"{}\"", escape_bytes(text));
  // Keep a quarter of the window as context before the point of interest.
  size_t start = std::min(from > limit / 4 ? from - limit / 4 : 0, text.size() - limit);
  size_t end = start + limit;
  return fmt::format("{}\"{}\"{} ({} bytes)", start > 0 ? "..." : "",
                     escape_bytes(text.substr(start, end - start)), end < text.size() ? "..." : "",
                     text.size());
}

std::vector<std::string> judge_step(const Step& step, const StepResult& run) {
  std::vector<std::string> failures;
  if (run.timed_out) {
    // Whatever the command printed so far is incomplete; comparing it would only add noise.
    failures.push_back(fmt::format("timed out after {}s{}", step.timeout, last_output(run)));
    return failures;
  }
  if (run.exit_code != step.exit_code) {
    std::string message = fmt::format("exit code: expected {}, got {}{}", step.exit_code,
                                      run.exit_code, exit_code_hint(run.exit_code));
    if (!run.err.empty() && !step.expected_stderr && !step.stderr_regex)
      message += fmt::format("; stderr: {}", quote_excerpt(run.err));
    failures.push_back(std::move(message));
  }
  if (step.expected_stdout)
    compare_exact(failures, "stdout", *step.expected_stdout, run.out, run);
  if (step.expected_stderr)
    compare_exact(failures, "stderr", *step.expected_stderr, run.err, run);
  if (step.stdout_regex)
    search(failures, "stdout", *step.stdout_regex, run.out, run);
  if (step.stderr_regex)
    search(failures, "stderr", *step.stderr_regex, run.err, run);
  return failures;
}

std::vector<std::string> judge_guest_end(const Step& step, const StepObservation& seen) {
  GuestEnd want = *step.ends_guest;
  const StepResult& run = seen.result;
  if (run.outcome == WaitOutcome::qemu_exited && seen.guest_end == want)
    return {};
  std::string expected =
      fmt::format("expected the guest to {} during this step (\"ends_guest\": "
                  "\"{}\")",
                  want == GuestEnd::poweroff ? "power off" : to_string(want), to_string(want));
  std::string got;
  if (run.outcome == WaitOutcome::ok)
    got = fmt::format("the step returned ({}){}",
                      run.out_of_time() ? "timed out" : fmt::format("exit code {}", run.exit_code),
                      last_output(run));
  else if (run.outcome == WaitOutcome::qemu_exited && seen.guest_end == GuestEnd::panic)
    got = "the kernel panicked";
  else if (run.outcome == WaitOutcome::qemu_exited)
    got = seen.qemu_exit.empty() ? "QEMU exited" : seen.qemu_exit;
  else if (run.outcome == WaitOutcome::timeout)
    got = "no answer came and QEMU kept running until the step's time was up";
  else
    got = describe(run.outcome) + (run.error.empty() ? "" : ": " + run.error);
  std::string console = join_lines(seen.console, 15);
  return {fmt::format("{}, but {}{}", expected, got,
                      console.empty() ? "" : "; last console lines:\n" + console)};
}

std::vector<std::string> judge_kernel_log(const Expect& expect, std::string_view kernel_log,
                                          size_t lost) {
  std::vector<std::string> failures;
  if (expect.kernel_log.empty() && expect.kernel_log_absent.empty())
    return failures;
  std::string log = normalize_line_ends(kernel_log);
  for (const auto& pattern : expect.kernel_log) {
    auto re = Regex::compile(pattern);
    if (!re)
      failures.push_back(
          fmt::format("kernel_log /{}/: bad regex: {}", pattern, re.error().message));
    else if (!re->matches(log))
      failures.push_back(fmt::format(
          "kernel_log /{}/ did not match anywhere in the kernel log ({} lines){}", pattern,
          std::count(log.begin(), log.end(), '\n'),
          lost == 0 ? std::string()
                    : fmt::format("; {} records are missing from it: the kernel's ring buffer "
                                  "overwrote them before /dev/kmsg was read, and the console did "
                                  "not print them",
                                  lost)));
  }
  for (const auto& pattern : expect.kernel_log_absent) {
    auto re = Regex::compile(pattern);
    if (!re) {
      failures.push_back(
          fmt::format("kernel_log_absent /{}/: bad regex: {}", pattern, re.error().message));
      continue;
    }
    auto match = re->search(log);
    if (!match)
      continue;
    size_t begin = match->offset == 0 ? std::string::npos : log.rfind('\n', match->offset - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    size_t end = log.find('\n', match->offset);
    if (end == std::string::npos)
      end = log.size();
    auto line = 1 + std::count(log.begin(), log.begin() + static_cast<long>(begin), '\n');
    failures.push_back(fmt::format(
        "kernel_log_absent /{}/ matched line {}: {}", pattern, line,
        quote_excerpt(std::string_view(log).substr(begin, end - begin), match->offset - begin)));
  }
  return failures;
}

bool fault_expected(const Expect& expect, std::string_view kind) {
  return std::find(expect.faults.begin(), expect.faults.end(), kind) != expect.faults.end();
}

std::vector<std::string> judge_faults(const Expect& expect,
                                      const std::vector<ObservedFault>& faults) {
  std::vector<std::string> failures;
  for (const auto& fault : faults)
    if (!fault_expected(expect, fault.kind))
      failures.push_back(
          fmt::format("kernel fault ({}): {}", fault.kind, printable_text(fault.title)));
  for (auto it = expect.faults.begin(); it != expect.faults.end(); ++it) {
    const std::string& kind = *it;
    if (std::find(expect.faults.begin(), it, kind) != it)
      continue; // listed twice
    if (std::none_of(faults.begin(), faults.end(),
                     [&](const ObservedFault& f) { return f.kind == kind; }))
      failures.push_back(
          fmt::format("expected a kernel fault of kind '{}' (expect.faults), none occurred", kind));
  }
  return failures;
}

} // namespace labctl
