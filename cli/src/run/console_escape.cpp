#include "run/console_escape.h"

namespace labctl {

ConsoleEscape::Output ConsoleEscape::feed(std::string_view bytes) {
  Output out;
  for (char c : bytes) {
    if (!m_after_prefix) {
      if (c == k_prefix)
        m_after_prefix = true;
      else
        out.to_guest += c;
      continue;
    }
    m_after_prefix = false;
    if (c == 'x' || c == 'X') {
      out.command = Command::leave;
      return out;
    }
    if (c == 'h' || c == 'H' || c == '?') {
      out.command = Command::help;
      continue;
    }
    if (c != k_prefix)
      out.to_guest += k_prefix;
    out.to_guest += c;
  }
  return out;
}

} // namespace labctl
