#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace labctl {

// The result of comparing the debugcon output with what a scenario expects.
struct DebugconComparison {
  bool equal = true;
  // Offset of the first byte that differs (the shorter length when one is a prefix of the
  // other); std::string::npos when equal.
  size_t first_difference = std::string::npos;
  // A unified diff over lines ("--- expected", "+++ actual", 3 lines of context) with
  // unprintable bytes escaped; empty when equal.
  std::string diff;
};

// At most this many lines of each side (after the common head and tail are set aside)
// go through the line diff; the rest is summarized, so 10 MiB of output stays fast.
inline constexpr size_t k_diff_max_lines = 4000;
// The diff text stops after this many lines, with a note of how much was left out.
inline constexpr size_t k_diff_max_output_lines = 400;

// Compare byte for byte; on a mismatch, explain it with a unified diff whose headers name
// `expected_label` and `actual_label`.
DebugconComparison compare_debugcon(std::string_view expected, std::string_view actual,
                                    const std::string& expected_label,
                                    const std::string& actual_label);

} // namespace labctl
