#include "util/base64.h"

#include <cstdint>

namespace labctl {

namespace {

constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

} // namespace

std::string encode_base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16 |
                 static_cast<unsigned char>(bytes[i + 1]) << 8 |
                 static_cast<unsigned char>(bytes[i + 2]);
    out += k_alphabet[n >> 18 & 63];
    out += k_alphabet[n >> 12 & 63];
    out += k_alphabet[n >> 6 & 63];
    out += k_alphabet[n & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2)
      n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += k_alphabet[n >> 18 & 63];
    out += k_alphabet[n >> 12 & 63];
    out += rest == 2 ? k_alphabet[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

bool decode_base64(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0)
    return false;
  out.reserve(out.size() + text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    uint32_t n = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      int v = 0;
      if (c == '=') {
        // Padding only in the last two places of the last group.
        if (!last || j < 2)
          return false;
        ++pad;
      } else {
        v = base64_value(c);
        if (v < 0 || pad > 0)
          return false;
      }
      n = n << 6 | static_cast<uint32_t>(v);
    }
    out += static_cast<char>(n >> 16 & 0xff);
    if (pad < 2)
      out += static_cast<char>(n >> 8 & 0xff);
    if (pad < 1)
      out += static_cast<char>(n & 0xff);
  }
  return true;
}

} // namespace labctl
