#pragma once

#include "util/result.h"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace labctl {

// Where a regex matched: byte offset and length in the searched text.
struct RegexMatch {
  size_t offset = 0;
  size_t length = 0;
};

// An RE2 regular expression in multi-line mode (^ and $ match at every line start and end),
// searched without anchoring. RE2 runs in time linear in the text and without recursion,
// so megabytes of kernel log are safe; never use std::regex on such text.
class Regex {
public:
  // A Failure carrying RE2's reason ("missing ): abc(") when the pattern does not compile.
  static util::Result<Regex> compile(std::string_view pattern);

  const std::string& pattern() const { return m_pattern; }
  // The first match in `text`, if any.
  std::optional<RegexMatch> search(std::string_view text) const;
  bool matches(std::string_view text) const { return search(text).has_value(); }

private:
  Regex() = default;
  std::string m_pattern;
  std::shared_ptr<const re2::RE2> m_re;
};

} // namespace labctl
