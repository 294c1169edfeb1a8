#include "guest/guest_protocol.h"

#include "util/result.h"

#include <fmt/format.h>

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

namespace labctl {

namespace {

constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t k_max_garbage = 64 * 1024;
constexpr size_t k_max_boot_line = 1024 * 1024;

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

bool is_base64_line(std::string_view line) {
  for (char c : line)
    if (c != '=' && base64_value(c) < 0)
      return false;
  return true;
}

// Append `bytes` to `line` without carriage returns (the tty may add them; neither base64
// nor kmsg records, where the kernel escapes control characters, can contain one).
void append_without_cr(std::string& line, std::string_view bytes) {
  for (char c : bytes)
    if (c != '\r')
      line += c;
}

// Visible form of a line for error messages.
std::string quoted(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 120)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f)
      out += fmt::format("\\x{:02x}", u);
    else
      out += c;
  }
  if (text.size() > 120)
    out += "...";
  return "'" + out + "'";
}

// Split `bytes` into lines, calling `on_line` for each complete one, while `more()` holds;
// returns the bytes used. An unfinished line waits in `partial`.
template <typename OnLine, typename More>
size_t split_lines(std::string_view bytes, std::string& partial, OnLine on_line, More more) {
  size_t used = 0;
  while (used < bytes.size() && more()) {
    size_t newline = bytes.find('\n', used);
    if (newline == std::string_view::npos) {
      append_without_cr(partial, bytes.substr(used));
      used = bytes.size();
      break;
    }
    append_without_cr(partial, bytes.substr(used, newline - used));
    used = newline + 1;
    std::string line = std::move(partial);
    partial.clear();
    on_line(line);
  }
  return used;
}

} // namespace

std::string make_nonce() {
  std::array<unsigned char, 8> bytes{};
  ssize_t got = getrandom(bytes.data(), bytes.size(), 0);
  if (got != static_cast<ssize_t>(bytes.size())) {
    // getrandom is missing only on very old kernels; /dev/urandom is the same source.
    FILE* urandom = std::fopen("/dev/urandom", "rb");
    bool read_ok = urandom && std::fread(bytes.data(), 1, bytes.size(), urandom) == bytes.size();
    if (urandom)
      std::fclose(urandom);
    if (!read_ok)
      throw FatalError(environment_error(
          fmt::format("cannot read random bytes for a nonce: {}", std::strerror(errno))));
  }
  std::string nonce;
  for (unsigned char b : bytes)
    nonce += fmt::format("{:02x}", b);
  return nonce;
}

std::string encode_request(std::string_view verb, const std::string& nonce, int timeout_s,
                           std::string_view command) {
  if (verb == "RUN")
    return fmt::format("RUN {} {} {}\n", nonce, std::max(timeout_s, 0), encode_base64(command));
  return fmt::format("{} {}\n", verb, nonce);
}

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

// ResponseDecoder

ResponseDecoder::ResponseDecoder(std::string nonce, size_t limit)
    : m_prefix("=" + std::move(nonce) + "="), m_limit(limit) {}

size_t ResponseDecoder::feed(std::string_view bytes) {
  size_t used = split_lines(
      bytes, m_partial, [this](std::string_view text) { line(text); },
      [this] { return !m_done && !failed(); });
  if (!failed() && m_buffered + m_partial.size() > m_limit)
    fail(fmt::format("output exceeds {} bytes", m_limit));
  return used;
}

void ResponseDecoder::fail(std::string message) {
  if (m_error.empty())
    m_error = std::move(message);
}

void ResponseDecoder::account(size_t bytes) {
  m_buffered += bytes;
  if (m_buffered > m_limit)
    fail(fmt::format("output exceeds {} bytes", m_limit));
}

void ResponseDecoder::line(std::string_view text) {
  // The test feed() applies to an unfinished line: however the bytes were split on their
  // way, the same input fails the same way.
  if (m_buffered + text.size() > m_limit) {
    fail(fmt::format("output exceeds {} bytes", m_limit));
    return;
  }
  if (text.substr(0, m_prefix.size()) == m_prefix) {
    m_started = true;
    marker(text.substr(m_prefix.size()));
    return;
  }
  if (!m_started) {
    m_garbage.append(text);
    m_garbage += '\n';
    if (m_garbage.size() > k_max_garbage)
      m_garbage.erase(0, m_garbage.size() - k_max_garbage);
    return;
  }
  if (text.empty())
    return; // the agent ends a kmsg section it copied in bulk with an empty line
  if (text[0] == '=') {
    // No base64 line or kmsg record starts with '=': a marker for another request.
    fail("unexpected marker inside the answer: " + quoted(text));
    return;
  }
  switch (m_section) {
  case Section::out:
  case Section::err:
    if (!is_base64_line(text)) {
      fail("a line of the answer is not base64: " + quoted(text));
      return;
    }
    (m_section == Section::out ? m_out64 : m_err64).append(text);
    account(text.size());
    break;
  case Section::kmsg:
    m_output.kmsg.emplace_back(text);
    account(text.size());
    break;
  case Section::none:
    break;
  }
}

void ResponseDecoder::marker(std::string_view rest) {
  auto open = [this, rest](Section section) {
    int bit = 1 << static_cast<int>(section);
    // Sections come at most once each, in the order O, E, K.
    if (m_sections_seen >= bit) {
      fail("answer section out of order: " + quoted(m_prefix + std::string(rest)));
      return;
    }
    m_sections_seen |= bit;
    m_section = section;
  };
  if (rest == "O=")
    return open(Section::out);
  if (rest == "E=")
    return open(Section::err);
  if (rest == "K=")
    return open(Section::kmsg);
  if (rest.substr(0, 2) != "X=") {
    fail("unknown marker in the answer: " + quoted(m_prefix + std::string(rest)));
    return;
  }
  // X=<exit code or ->=<T or ->
  std::string_view fields = rest.substr(2);
  size_t eq = fields.find('=');
  std::string_view code = fields.substr(0, eq);
  std::string_view timed_out = eq == std::string_view::npos ? "" : fields.substr(eq + 1);
  int exit_code = -1;
  bool code_ok = code == "-";
  if (!code_ok && !code.empty()) {
    auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), exit_code);
    code_ok = ec == std::errc() && end == code.data() + code.size() && exit_code >= 0;
  }
  if (!code_ok || (timed_out != "T" && timed_out != "-")) {
    fail("malformed end marker: " + quoted(m_prefix + std::string(rest)));
    return;
  }
  m_output.exit_code = code == "-" ? -1 : exit_code;
  m_output.guest_timed_out = timed_out == "T";
  if (!decode_base64(m_out64, m_output.out)) {
    fail("stdout is not valid base64");
    return;
  }
  if (!decode_base64(m_err64, m_output.err)) {
    fail("stderr is not valid base64");
    return;
  }
  m_out64.clear();
  m_err64.clear();
  m_done = true;
}

StepOutput ResponseDecoder::take() {
  StepOutput output = std::move(m_output);
  m_output = StepOutput{};
  return output;
}

// BootDecoder

BootDecoder::BootDecoder(std::string boot_nonce) : m_prefix("=" + std::move(boot_nonce) + "=") {}

size_t BootDecoder::feed(std::string_view bytes) {
  size_t used = split_lines(
      bytes, m_partial, [this](std::string_view text) { line(text); }, [this] { return !m_ready; });
  if (m_partial.size() > k_max_boot_line) {
    m_partial.clear(); // endless noise without a newline carries no report
    m_skipping = true; // and neither does the rest of it, up to its newline
  }
  return used;
}

void BootDecoder::line(std::string_view text) {
  // An overlong line is noise however it arrives: whole here, or cut up by feed().
  if (std::exchange(m_skipping, false) || text.size() > k_max_boot_line)
    return;
  if (text.substr(0, m_prefix.size()) != m_prefix)
    return; // kernel or init noise
  std::string_view rest = text.substr(m_prefix.size());
  if (rest.substr(0, 6) == "READY=") {
    m_ready = true;
    m_release = std::string(rest.substr(6));
    return;
  }
  if (rest.substr(0, 4) == "MOD=") {
    rest.remove_prefix(4);
    size_t eq = rest.find('=');
    if (eq != std::string_view::npos && eq > 0) {
      ModuleLoad load;
      load.name = std::string(rest.substr(0, eq));
      std::string_view result = rest.substr(eq + 1);
      if (result == "OK") {
        load.ok = true;
        m_modules.push_back(std::move(load));
        return;
      }
      if (result.substr(0, 5) == "FAIL=") {
        std::string_view encoded = result.substr(5);
        if (!decode_base64(encoded, load.error_text))
          load.error_text = "(insmod's output did not arrive intact: " + quoted(encoded) + ")";
        m_modules.push_back(std::move(load));
        return;
      }
    }
  }
  if (m_error.empty())
    m_error = "unknown boot report on the control channel: " + quoted(text);
}

} // namespace labctl
