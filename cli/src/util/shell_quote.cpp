#include "util/shell_quote.h"

namespace labctl {

namespace {
bool is_safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("@%_-+=:,./").find(c) != std::string_view::npos;
}
} // namespace

std::string shell_quote(std::string_view word) {
  if (!word.empty()) {
    bool safe = true;
    for (char c : word)
      safe = safe && is_safe(c);
    if (safe)
      return std::string(word);
  }
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += '\'';
  return out;
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& word : argv) {
    if (!out.empty())
      out += ' ';
    out += shell_quote(word);
  }
  return out;
}

} // namespace labctl
