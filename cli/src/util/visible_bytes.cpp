#include "util/visible_bytes.h"

#include <fmt/format.h>

namespace labctl {

namespace {

// Length of the well-formed UTF-8 sequence starting at bytes[i] (2-4), or 0 if there is
// none. Plain ASCII is handled by the callers.
size_t utf8_sequence_length(std::string_view bytes, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  unsigned char lead = at(i);
  size_t length;
  unsigned char low = 0x80, high = 0xBF; // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0)
      low = 0xA0; // overlong
    if (lead == 0xED)
      high = 0x9F; // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0)
      low = 0x90; // overlong
    if (lead == 0xF4)
      high = 0x8F; // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > bytes.size())
    return 0;
  if (at(i + 1) < low || at(i + 1) > high)
    return 0;
  for (size_t k = 2; k < length; ++k)
    if (at(i + k) < 0x80 || at(i + k) > 0xBF)
      return 0;
  // U+FFFE and U+FFFF are not characters (and are illegal in XML).
  if (length == 3 && lead == 0xEF && at(i + 1) == 0xBF && at(i + 2) >= 0xBE)
    return 0;
  return length;
}

std::string make_visible(std::string_view bytes, bool keep_layout) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (size_t i = 0; i < bytes.size();) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x80) {
      if (size_t n = utf8_sequence_length(bytes, i)) {
        out.append(bytes.substr(i, n));
        i += n;
        continue;
      }
      out += fmt::format("\\x{:02x}", c);
    } else if (keep_layout && (c == '\n' || c == '\t' || c == '\\')) {
      out += static_cast<char>(c);
    } else if (keep_layout && c == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') {
      out += static_cast<char>(c); // a CRLF line end, as serial consoles write them
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out;
}

} // namespace

std::string escape_bytes(std::string_view bytes) {
  return make_visible(bytes, false);
}

std::string printable_text(std::string_view bytes) {
  return make_visible(bytes, true);
}

bool is_valid_utf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = utf8_sequence_length(bytes, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

} // namespace labctl
