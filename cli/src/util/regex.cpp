#include "util/regex.h"

#include <re2/re2.h>

namespace labctl {

namespace {

RE2::Options regex_options() {
  RE2::Options options;
  options.set_log_errors(false); // the error comes back in the Result instead
  return options;
}

} // namespace

util::Result<Regex> Regex::compile(std::string_view pattern) {
  std::string multi_line = "(?m)" + std::string(pattern);
  auto re = std::make_shared<const RE2>(multi_line, regex_options());
  if (!re->ok()) {
    // Compile the pattern alone so the message does not mention the "(?m)" we added.
    RE2 plain(std::string(pattern), regex_options());
    return util::Failure{plain.ok() ? re->error() : plain.error()};
  }
  Regex regex;
  regex.m_pattern = std::string(pattern);
  regex.m_re = std::move(re);
  return regex;
}

std::optional<RegexMatch> Regex::search(std::string_view text) const {
  re2::StringPiece whole(text.data(), text.size());
  re2::StringPiece match;
  if (!m_re->Match(whole, 0, whole.size(), RE2::UNANCHORED, &match, 1))
    return std::nullopt;
  return RegexMatch{static_cast<size_t>(match.data() - text.data()), match.size()};
}

} // namespace labctl
