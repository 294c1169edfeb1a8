#include "judge/debugcon_diff.h"

#include "util/visible_bytes.h"

#include <dtl/dtl.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace labctl {

namespace {

constexpr size_t k_context = 3;
// Longer lines are cut in the diff text; the first-difference offset locates the change.
constexpr size_t k_max_line_bytes = 512;

using Lines = std::vector<std::string_view>;

// Lines with their '\n' kept, so a missing final newline makes the last line differ.
Lines split_lines(std::string_view text) {
  Lines lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

// One line of the edit script. `a` and `b` are 0-based line indexes in expected and actual;
// for an insertion or deletion, the side without the line holds the number of lines before.
struct Op {
  char mark; // ' ', '-', '+'
  size_t a;
  size_t b;
  std::string_view text;
};

// The edit script between a[from, from + na) and b[from, from + nb), computed with dtl.
void diff_region(const Lines& a, const Lines& b, size_t from, size_t na, size_t nb,
                 std::vector<Op>& ops) {
  Lines left(a.begin() + static_cast<long>(from), a.begin() + static_cast<long>(from + na));
  Lines right(b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(from + nb));
  dtl::Diff<std::string_view, Lines> diff(left, right);
  diff.compose();
  size_t ia = from, ib = from;
  for (const auto& [text, info] : diff.getSes().getSequence()) {
    if (info.type == dtl::SES_COMMON)
      ops.push_back({' ', ia++, ib++, text});
    else if (info.type == dtl::SES_DELETE)
      ops.push_back({'-', ia++, ib, text});
    else
      ops.push_back({'+', ia, ib++, text});
  }
}

std::string range(size_t first, size_t count) {
  // GNU diff: an empty range names the line before it; a single line has no count.
  if (count == 1)
    return fmt::format("{}", first + 1);
  return fmt::format("{},{}", count == 0 ? first : first + 1, count);
}

void render_line(std::string& out, char mark, std::string_view line) {
  bool newline = !line.empty() && line.back() == '\n';
  if (newline)
    line.remove_suffix(1);
  out += mark;
  if (line.size() > k_max_line_bytes)
    out += fmt::format("{} [... {} more bytes]", escape_bytes(line.substr(0, k_max_line_bytes)),
                       line.size() - k_max_line_bytes);
  else
    out += escape_bytes(line);
  out += '\n';
  if (!newline)
    out += "\\ No newline at end of file\n";
}

// Print hunks with k_context lines of context around changes, GNU style: deletions of a
// change come before its insertions, and changes at most 2 * k_context lines apart share
// a hunk. Returns false when k_diff_max_output_lines stopped it.
bool render_hunks(const std::vector<Op>& ops, std::string& out) {
  size_t printed = 0;
  size_t i = 0;
  while (i < ops.size()) {
    size_t change = i;
    while (change < ops.size() && ops[change].mark == ' ')
      ++change;
    if (change == ops.size())
      break;
    size_t start = change - std::min(k_context, change - i);
    size_t last_change = change;
    for (size_t j = change + 1; j < ops.size() && j - last_change <= 2 * k_context + 1; ++j)
      if (ops[j].mark != ' ')
        last_change = j;
    size_t end = std::min(ops.size(), last_change + 1 + k_context);

    size_t a_count = 0, b_count = 0;
    for (size_t k = start; k < end; ++k) {
      a_count += ops[k].mark != '+';
      b_count += ops[k].mark != '-';
    }
    if (printed++ >= k_diff_max_output_lines)
      return false;
    out +=
        fmt::format("@@ -{} +{} @@\n", range(ops[start].a, a_count), range(ops[start].b, b_count));
    for (size_t k = start; k < end;) {
      if (printed >= k_diff_max_output_lines)
        return false;
      if (ops[k].mark == ' ') {
        render_line(out, ' ', ops[k].text);
        ++k;
        ++printed;
        continue;
      }
      size_t run_end = k;
      while (run_end < end && ops[run_end].mark != ' ')
        ++run_end;
      for (char mark : {'-', '+'})
        for (size_t r = k; r < run_end; ++r)
          if (ops[r].mark == mark && printed++ < k_diff_max_output_lines)
            render_line(out, mark, ops[r].text);
      k = run_end;
    }
    i = end;
  }
  return printed <= k_diff_max_output_lines;
}

} // namespace

DebugconComparison compare_debugcon(std::string_view expected, std::string_view actual,
                                    const std::string& expected_label,
                                    const std::string& actual_label) {
  DebugconComparison result;
  if (expected == actual)
    return result;
  result.equal = false;
  result.first_difference = static_cast<size_t>(
      std::mismatch(expected.begin(), expected.end(), actual.begin(), actual.end()).first -
      expected.begin());

  Lines a = split_lines(expected);
  Lines b = split_lines(actual);
  // Set the common head and tail aside so only the differing middle goes through dtl.
  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head])
    ++head;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail])
    ++tail;
  size_t middle_a = a.size() - head - tail;
  size_t middle_b = b.size() - head - tail;
  size_t diffed_a = std::min(middle_a, k_diff_max_lines);
  size_t diffed_b = std::min(middle_b, k_diff_max_lines);
  bool cut = diffed_a < middle_a || diffed_b < middle_b;

  std::vector<Op> ops;
  for (size_t k = head - std::min(head, k_context); k < head; ++k)
    ops.push_back({' ', k, k, a[k]});
  diff_region(a, b, head, diffed_a, diffed_b, ops);
  if (!cut) // the tail lines up with the end of the middle only when all of it was diffed
    for (size_t k = 0; k < std::min(tail, k_context); ++k)
      ops.push_back({' ', head + middle_a + k, head + middle_b + k, a[head + middle_a + k]});

  result.diff = fmt::format("--- {}\n+++ {}\n", expected_label, actual_label);
  if (!render_hunks(ops, result.diff))
    result.diff += fmt::format("... diff cut after {} lines\n", k_diff_max_output_lines);
  if (cut)
    result.diff += fmt::format("... only the first {} differing lines of each side were "
                               "compared; {} more expected and {} more actual lines follow\n",
                               k_diff_max_lines, middle_a - diffed_a, middle_b - diffed_b);
  return result;
}

} // namespace labctl
