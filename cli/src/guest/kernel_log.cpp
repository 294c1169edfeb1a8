#include "guest/kernel_log.h"

#include <charconv>

namespace labctl {

namespace {

bool parse_number(std::string_view s, uint64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// /dev/kmsg shows a control byte or backslash of a record as \xNN; the console prints the
// byte itself (less the CR labctl's console reader drops).
std::string unescape_kmsg(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned value = 0;
    if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] == 'x' &&
        std::from_chars(text.data() + i + 2, text.data() + i + 4, value, 16).ptr ==
            text.data() + i + 4) {
      if (value != '\r')
        out += static_cast<char>(value);
      i += 3;
      continue;
    }
    out += text[i];
  }
  return out;
}

} // namespace

void KernelLog::add_kmsg(std::string_view record) {
  Line line;
  size_t semi = record.find(';');
  bool parsed = false;
  if (semi != std::string_view::npos) {
    std::string_view head = record.substr(0, semi);
    size_t c1 = head.find(',');
    size_t c2 = c1 == std::string_view::npos ? c1 : head.find(',', c1 + 1);
    size_t c3 = c2 == std::string_view::npos ? c2 : head.find(',', c2 + 1);
    if (c2 != std::string_view::npos) {
      std::string_view usec = head.substr(c2 + 1, c3 == std::string_view::npos ? c3 : c3 - c2 - 1);
      parsed =
          parse_number(head.substr(c1 + 1, c2 - c1 - 1), line.seq) && parse_number(usec, line.usec);
    }
  }
  // A line without a record header (a record's " KEY=value" dictionary line) stays with the
  // record before it.
  line.continuation = !parsed;
  m_kmsg.add(line, parsed ? record.substr(semi + 1) : record, k_max_kmsg_bytes);
}

bool KernelLog::Stream::add(Line line, std::string_view line_text, size_t limit) {
  if (text.size() + line_text.size() + (lines.size() + 1) * sizeof(Line) > limit)
    return false;
  line.offset = static_cast<uint32_t>(text.size());
  line.length = static_cast<uint32_t>(line_text.size());
  text.append(line_text);
  lines.push_back(line);
  return true;
}

void KernelLog::add_console(std::string_view line) {
  // "[    1.234567] text"
  if (line.size() < 4 || line[0] != '[')
    return;
  size_t close = line.find("] ");
  if (close == std::string_view::npos)
    return;
  std::string_view stamp = line.substr(1, close - 1);
  while (!stamp.empty() && stamp.front() == ' ')
    stamp.remove_prefix(1);
  size_t dot = stamp.find('.');
  uint64_t seconds = 0;
  uint64_t micros = 0;
  if (dot == std::string_view::npos || stamp.size() - dot - 1 != 6 ||
      !parse_number(stamp.substr(0, dot), seconds) || !parse_number(stamp.substr(dot + 1), micros))
    return;
  m_console.add({.usec = seconds * 1000000 + micros}, line.substr(close + 2), k_max_console_bytes);
}

KernelLog::Text KernelLog::complete() const {
  Text out;
  out.text.reserve(m_kmsg.text.size() + m_kmsg.lines.size());
  auto emit = [&](std::string_view text) {
    out.text += text;
    out.text += '\n';
  };
  const auto& console = m_console.lines;
  size_t ci = 0;
  uint64_t next_seq = 0; // the kernel numbers records from 0 at boot
  const Line* last = nullptr;
  for (const Line& record : m_kmsg.lines) {
    std::string_view text = m_kmsg.line(record);
    if (record.continuation) {
      emit(text);
      continue;
    }
    uint64_t missing = record.seq > next_seq ? record.seq - next_seq : 0;
    uint64_t filled = 0;
    // Console lines before this record: those of kmsg's gap, or ones kmsg already has.
    for (; ci < console.size() && console[ci].usec < record.usec; ++ci)
      if (missing > 0) {
        emit(m_console.line(console[ci]));
        ++filled;
      }
    // The record's own line on the console.
    if (ci < console.size() && console[ci].usec == record.usec &&
        m_console.line(console[ci]) == unescape_kmsg(text))
      ++ci;
    emit(text);
    if (missing > 0)
      out.gaps.push_back({.first_seq = next_seq, .missing = missing, .filled = filled});
    out.from_console += filled;
    out.lost += missing > filled ? missing - filled : 0;
    next_seq = record.seq + 1;
    last = &record;
  }
  // What the console printed after kmsg's last record (all of it when kmsg gave nothing).
  for (; ci < console.size(); ++ci)
    if (!last || console[ci].usec > last->usec) {
      emit(m_console.line(console[ci]));
      ++out.from_console;
    }
  return out;
}

} // namespace labctl
