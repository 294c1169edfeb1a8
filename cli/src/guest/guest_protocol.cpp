#include "guest/guest_protocol.h"

#include "core/error.h"
#include "util/base64.h"
#include "util/visible_bytes.h"

#include <fmt/format.h>

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <tuple>
#include <utility>

namespace labctl {

namespace {

constexpr size_t k_max_garbage = 64 * 1024;
constexpr size_t k_max_boot_line = 1024 * 1024;

bool is_base64_line(std::string_view line) {
  return line.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
         std::string_view::npos;
}

// Append `bytes` to `line` without carriage returns (the tty may add them; neither base64
// nor kmsg records, where the kernel escapes control characters, can contain one).
void append_without_cr(std::string& line, std::string_view bytes) {
  for (char c : bytes)
    if (c != '\r')
      line += c;
}

// Visible form of a line for error messages (escape_bytes, cut at 120 bytes).
std::string quoted(std::string_view text) {
  return "'" + escape_bytes(text.substr(0, 120)) + (text.size() > 120 ? "..." : "") + "'";
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
  if (verb == "KMSG" || verb == "HALT")
    return fmt::format("{} {}\n", verb, nonce);
  return fmt::format("{} {} {} {}\n", verb, nonce, std::max(timeout_s, 0), command);
}

uint32_t crc32(std::string_view bytes) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (char b : bytes)
    c = table[(c ^ static_cast<unsigned char>(b)) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string unknown_exit_reason(const StepOutput& output) {
  if (output.exit_code >= 0)
    return {};
  switch (output.end) {
  case StepEnd::stuck:
    return "the agent killed the step at its timeout, but it had not ended 5 s later (a "
           "process stuck in the kernel?)";
  case StepEnd::lost:
    return "the step's exit status was lost: the guest process waiting for it was killed";
  case StepEnd::not_run:
    return "the command did not reach the guest intact, so it never ran";
  case StepEnd::exited:
  case StepEnd::timed_out:
    break;
  }
  return "the guest reported no exit status";
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
  if (agent_report(text))
    return;
  if (!m_started) {
    // Bytes a step wrote to the channel without a newline end up in front of the first
    // marker; the nonce is secret and fresh, so finding it anywhere in the line is safe.
    size_t at = text.find(m_prefix);
    if (at != std::string_view::npos) {
      m_garbage.append(text.substr(0, at));
      m_garbage += '\n';
      m_started = true;
      marker(text.substr(at + m_prefix.size()));
      return;
    }
    m_garbage.append(text);
    m_garbage += '\n';
    if (m_garbage.size() > k_max_garbage)
      m_garbage.erase(0, m_garbage.size() - k_max_garbage);
    return;
  }
  if (text.substr(0, m_prefix.size()) == m_prefix) {
    marker(text.substr(m_prefix.size()));
    return;
  }
  if (text.empty())
    return; // the agent ends a kmsg section it copied in bulk with an empty line
  if (text[0] == '=') {
    // No base64 line or kmsg record starts with '=': a marker for another request.
    damaged("unexpected marker inside the answer: " + quoted(text));
    return;
  }
  switch (m_section) {
  case Section::out:
  case Section::err:
    if (!is_base64_line(text)) {
      damaged("a line of the answer is not base64: " + quoted(text));
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

bool ResponseDecoder::agent_report(std::string_view text) {
  // init writes its report at the start of a line of its own.
  if (m_boot_prefix.empty() || text.substr(0, m_boot_prefix.size()) != m_boot_prefix)
    return false;
  std::string_view rest = text.substr(m_boot_prefix.size());
  if (rest.substr(0, 6) != "AGENT=")
    return false;
  std::string_view status = rest.substr(6);
  int code = -1;
  auto [end, ec] = std::from_chars(status.data(), status.data() + status.size(), code);
  std::string how = ec == std::errc() && end == status.data() + status.size() && code > 128
                        ? fmt::format("killed by signal {}", code - 128)
                        : fmt::format("exit status {}", quoted(status));
  m_agent_died = true;
  fail(fmt::format("the guest agent died ({}; init restarts it)", how));
  return true;
}

namespace {

// "<8 lowercase hex digits>" into `crc`.
bool parse_crc(std::string_view text, uint32_t& crc) {
  if (text.size() != 8 || text.find_first_not_of("0123456789abcdef") != std::string_view::npos)
    return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), crc, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

} // namespace

void ResponseDecoder::marker(std::string_view rest) {
  auto whole = [this, rest] { return quoted(m_prefix + std::string(rest)); };
  auto open = [this, &whole](Section section) {
    int bit = 1 << static_cast<int>(section);
    // Sections come at most once each, in the order O, E, K.
    if (m_sections_seen >= bit) {
      damaged("answer section out of order: " + whole());
      return;
    }
    m_sections_seen |= bit;
    m_section = section;
  };
  if (rest.substr(0, 2) == "O=" || rest.substr(0, 2) == "E=") {
    bool out = rest[0] == 'O';
    if (!parse_crc(rest.substr(2), out ? m_out_crc : m_err_crc)) {
      damaged("malformed section marker: " + whole());
      return;
    }
    return open(out ? Section::out : Section::err);
  }
  if (rest == "K=")
    return open(Section::kmsg);
  if (rest.substr(0, 2) != "X=") {
    damaged("unknown marker in the answer: " + whole());
    return;
  }
  // X=<exit code or ->=<how>
  std::string_view fields = rest.substr(2);
  size_t eq = fields.find('=');
  std::string_view code = fields.substr(0, eq);
  std::string_view how = eq == std::string_view::npos ? "" : fields.substr(eq + 1);
  int exit_code = -1;
  bool known = false;
  if (!code.empty() && code != "-") {
    auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), exit_code);
    known = ec == std::errc() && end == code.data() + code.size() && exit_code >= 0;
    if (!known) {
      damaged("malformed end marker: " + whole());
      return;
    }
  }
  StepEnd end_how;
  if (how == "-" && known)
    end_how = StepEnd::exited;
  else if (how == "T" && known)
    end_how = StepEnd::timed_out;
  else if (how == "S" && code == "-")
    end_how = StepEnd::stuck;
  else if (how == "L" && code == "-")
    end_how = StepEnd::lost;
  else if (how == "C" && code == "-")
    end_how = StepEnd::not_run;
  else {
    damaged("malformed end marker: " + whole());
    return;
  }
  constexpr int out_bit = 1 << static_cast<int>(Section::out);
  constexpr int err_bit = 1 << static_cast<int>(Section::err);
  if (m_require_streams && (m_sections_seen & (out_bit | err_bit)) != (out_bit | err_bit)) {
    damaged(fmt::format("the answer has no {} section",
                        m_sections_seen & out_bit ? "stderr" : "stdout"));
    return;
  }
  m_output.exit_code = known ? exit_code : -1;
  m_output.end = end_how;
  m_output.guest_timed_out = end_how == StepEnd::timed_out || end_how == StepEnd::stuck;
  if (!decode_base64(m_out64, m_output.out)) {
    damaged("stdout is not valid base64");
    return;
  }
  if (!decode_base64(m_err64, m_output.err)) {
    damaged("stderr is not valid base64");
    return;
  }
  for (auto [name, bit, bytes, sent] : {std::tuple{"stdout", out_bit, &m_output.out, m_out_crc},
                                        std::tuple{"stderr", err_bit, &m_output.err, m_err_crc}}) {
    if (!(m_sections_seen & bit))
      continue;
    if (uint32_t got = crc32(*bytes); got != sent) {
      damaged(fmt::format("{} ({} bytes) has CRC-32 {:08x}, the guest sent {:08x}", name,
                          bytes->size(), got, sent));
      return;
    }
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
