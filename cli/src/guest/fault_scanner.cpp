#include "guest/fault_scanner.h"

#include <re2/re2.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace labctl {

namespace {

// How an open report ends.
enum class EndStyle {
  end_trace, // "---[ end trace ... ]---"
  panic,     // "---[ end Kernel panic ... ]---" (absent when panic= resets at once)
  rule,      // a line of '=' (KASAN, UBSAN, KFENCE, ...)
  task,      // " </TASK>" closing the stack dump, or an end-trace line
  // SLUB debugging: after the stack dump (6.1) or the WARNING from mm/slub.c that 6.12
  // prints inside the report, its "FIX name: ..." lines still belong to it.
  slab,
};

// A name from k_fault_kinds, checked when compiled: the scanner cannot report a kind that
// expect.faults would refuse.
struct ListedKind {
  consteval ListedKind(const char* kind) : name(kind) {
    if (!is_fault_kind(kind))
      throw "a fault kind missing from k_fault_kinds";
  }
  const char* name;
};

struct Header {
  std::unique_ptr<RE2> pattern; // matched at the start of the message
  const char* kind;             // one of k_fault_kinds
  EndStyle end;
};

// Patterns learnt from the kernel's own printk formats, syzkaller's pkg/report/linux.go and
// LAVA's kernel message list. Order matters: the first match wins.
const std::vector<Header>& headers() {
  static const std::vector<Header> table = [] {
    std::vector<Header> t;
    auto add = [&t](const char* pattern, ListedKind kind, EndStyle end) {
      t.push_back({std::make_unique<RE2>(pattern), kind.name, end});
    };
    add(R"(BUG: KASAN: )", "kasan", EndStyle::rule);
    add(R"(BUG: KFENCE: )", "kfence", EndStyle::rule);
    add(R"(BUG: KCSAN: )", "kcsan", EndStyle::rule);
    add(R"(BUG: KMSAN: )", "kmsan", EndStyle::rule);
    add(R"((?:watchdog: )?BUG: soft lockup)", "soft_lockup", EndStyle::task);
    add(R"(BUG: (?:kernel NULL pointer dereference|unable to handle|Unable to handle))", "oops",
        EndStyle::end_trace);
    add(R"(BUG: )", "bug", EndStyle::task);
    add(R"(BUG [\w.-]+ \(.*\): )", "slub", EndStyle::slab); // SLUB debugging
    add(R"(kernel BUG at )", "bug", EndStyle::end_trace);
    add(R"(Unable to handle kernel )", "oops", EndStyle::end_trace);
    add(R"((?:Internal error: )?Oops(?: -|:))", "oops", EndStyle::end_trace);
    add(R"(general protection fault)", "gpf", EndStyle::end_trace);
    add(R"(stack segment: )", "stack_segment", EndStyle::end_trace);
    add(R"(invalid opcode: )", "invalid_opcode", EndStyle::end_trace);
    add(R"(divide error: )", "divide_error", EndStyle::end_trace);
    add(R"(PANIC: double fault)", "double_fault", EndStyle::end_trace);
    add(R"(Kernel panic - not syncing)", "panic", EndStyle::panic);
    add(R"(WARNING: (?:CPU: \d+ PID: \d+ at |at ))", "warning", EndStyle::end_trace);
    // lockdep reports: framed by rules, no end-trace line.
    add(R"(WARNING: (?:possible |suspicious RCU usage|inconsistent lock state|bad unlock )"
        R"(balance|held lock freed|lock held when returning|Nested lock|bad contention|)"
        R"([A-Z]+IRQ-safe -> |kernel stack ))",
        "warning", EndStyle::task);
    add(R"((?:NMI watchdog: )?Watchdog detected hard LOCKUP)", "hard_lockup", EndStyle::task);
    add(R"((?:rcu: )?INFO: rcu_\w+ (?:self-)?detected (?:expedited )?stall)", "rcu_stall",
        EndStyle::task);
    add(R"(INFO: task .* blocked for more than \d+ seconds)", "hung_task", EndStyle::task);
    add(R"(UBSAN: )", "ubsan", EndStyle::rule);
    return t;
  }();
  return table;
}

bool matches_at_start(const RE2& re, std::string_view text) {
  return re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::ANCHOR_START,
                  nullptr, 0);
}

// Lines that continue a report begun by a BUG: line instead of starting a new one: the
// x86 page fault and BUG() paths print their header first and the oops line after it.
bool is_oops_line(std::string_view text) {
  static const RE2 oops(R"((?:Internal error: )?Oops(?: -|:)|invalid opcode: |)"
                        R"(general protection fault|divide error: |stack segment: )");
  return matches_at_start(oops, text);
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Only messages starting with one of these letters can be headers: a cheap filter, so a
// printk flood costs no regex work.
bool may_be_header(std::string_view text) {
  if (text.empty())
    return false;
  switch (text[0]) {
  case 'B':
  case 'k':
  case 'U':
  case 'I':
  case 'O':
  case 'g':
  case 's':
  case 'i':
  case 'd':
  case 'P':
  case 'K':
  case 'W':
  case 'w':
  case 'N':
  case 'r':
    return true;
  default:
    return false;
  }
}

bool is_rule(std::string_view text) {
  if (text.size() < 10)
    return false;
  for (char c : text)
    if (c != '=')
      return false;
  return true;
}

bool is_all_digits(std::string_view text) {
  if (text.empty())
    return false;
  for (char c : text)
    if (c < '0' || c > '9')
      return false;
  return true;
}

// The text of a /dev/kmsg record "level,seq,usec,flags;text", or nullopt.
std::optional<std::string_view> kmsg_text(std::string_view line) {
  size_t semi = line.find(';');
  if (semi == std::string_view::npos)
    return std::nullopt;
  std::string_view head = line.substr(0, semi);
  for (int field = 0; field < 3; ++field) {
    size_t comma = head.find(',');
    if (comma == std::string_view::npos || !is_all_digits(head.substr(0, comma)))
      return std::nullopt;
    head.remove_prefix(comma + 1);
  }
  return line.substr(semi + 1);
}

// A console line without "<4>", "[    1.234567] " and "[    T1] " prefixes.
std::string_view strip_console_prefix(std::string_view line) {
  if (starts_with(line, "<")) {
    size_t close = line.find('>');
    if (close != std::string_view::npos && is_all_digits(line.substr(1, close - 1)))
      line.remove_prefix(close + 1);
  }
  auto bracket = [&line](bool caller) {
    if (!starts_with(line, "["))
      return false;
    size_t close = line.find(']');
    if (close == std::string_view::npos)
      return false;
    std::string_view inside = line.substr(1, close - 1);
    while (!inside.empty() && inside.front() == ' ')
      inside.remove_prefix(1);
    if (caller) {
      if (inside.empty() || (inside[0] != 'T' && inside[0] != 'C') ||
          !is_all_digits(inside.substr(1)))
        return false;
    } else {
      size_t dot = inside.find('.');
      if (dot == std::string_view::npos || !is_all_digits(inside.substr(0, dot)) ||
          !is_all_digits(inside.substr(dot + 1)))
        return false;
    }
    line.remove_prefix(close + 1);
    return true;
  };
  if (bracket(false)) {
    bracket(true);
    if (starts_with(line, " "))
      line.remove_prefix(1);
    return line;
  }
  // The kernel writes to the serial port directly, so its record can start in the middle
  // of a line that user space was printing ("labctl-te[    3.33] BUG: ...").
  static const RE2 timestamp(R"(\[ *\d+\.\d+\](?:\[ *[CT]\d+\])? ?)");
  re2::StringPiece whole(line.data(), line.size());
  re2::StringPiece match;
  if (line.find("] ") != std::string_view::npos &&
      timestamp.Match(whole, 0, whole.size(), RE2::UNANCHORED, &match, 1))
    line.remove_prefix(static_cast<size_t>(match.data() - line.data()) + match.size());
  return line;
}

std::string_view trim_end(std::string_view text) {
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' '))
    text.remove_suffix(1);
  return text;
}

std::string_view trim(std::string_view text) {
  text = trim_end(text);
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  return text;
}

// Whether `bare` (a message without surrounding blanks) is the last line of a report.
bool ends_report(EndStyle end, std::string_view bare) {
  switch (end) {
  case EndStyle::panic:
    return starts_with(bare, "---[ end Kernel panic");
  case EndStyle::rule:
    return is_rule(bare);
  case EndStyle::end_trace:
  case EndStyle::task:
    return starts_with(bare, "---[ end trace");
  case EndStyle::slab:
    return false; // the line after its stack dump decides
  }
  return false;
}

// After a stack dump's "</TASK>", whether `text` continues the same report: an RCU stall
// dumps the grace-period kthread first and then the CPU that stalls it.
bool continues_report(std::string_view text) {
  for (std::string_view prefix : {"rcu: ", "CPU: ", "NMI backtrace", "Sending NMI", "task:",
                                  "Call Trace:", "Modules linked in:", "Hardware name:", "RIP: "})
    if (starts_with(text, prefix))
      return true;
  return false;
}

// After a SLUB report's stack dump (or its WARNING's end-trace line), whether `text` is still
// part of it: SLUB says what it repaired.
bool continues_slab_report(std::string_view text) {
  return starts_with(text, "FIX ") || starts_with(text, "Disabling lock debugging") ||
         starts_with(trim(text), "---[ end trace");
}

// The line SLUB of 6.12 prints before a report headed "Object corrupt":
// "[Right Redzone overwritten] 0x...-0x... @offset=3824. First byte 0x78 instead of 0xcc".
bool is_slab_reason(std::string_view text) {
  size_t close = text.find("] ");
  return starts_with(text, "[") && close != std::string_view::npos &&
         text.substr(0, close).find(" overwritten") != std::string_view::npos;
}

constexpr size_t k_max_report_lines = 1000;
constexpr int k_max_cut_here_wait = 10;

// A report being collected. Outside State, so that clang sees its default member
// initializers complete before std::optional<OpenReport> asks whether it can be built.
struct OpenReport {
  KernelFault fault;
  EndStyle end = EndStyle::task;
  size_t lines = 0;
  bool oops_seen = false;
  bool stack_ended = false; // "</TASK>" seen in a task-style report
  bool slab_warned = false; // a SLUB report took in its WARNING from mm/slub.c
};

} // namespace

struct FaultScanner::State {
  std::optional<OpenReport> open;
  // "cut here" lines (and what followed) waiting for their WARNING/BUG header.
  std::vector<std::string> cut_here;
  std::string previous;    // the previous message, for a rule just before a header
  std::string slab_reason; // a SLUB reason line, while only a rule followed it
  std::vector<KernelFault> done;

  void close() {
    if (!open)
      return;
    done.push_back(std::move(open->fault));
    open.reset();
  }

  // Adds a line to the open report (none: the report hit its cap and was closed).
  void append(std::string_view text) {
    if (!open)
      return;
    open->fault.report.append(text);
    open->fault.report += '\n';
    if (++open->lines >= k_max_report_lines ||
        open->fault.report.size() >= FaultScanner::k_max_report_bytes)
      close();
  }

  void start(const Header& header, std::string_view text) {
    close();
    open.emplace();
    open->fault.kind = header.kind;
    open->fault.title = std::string(text);
    open->end = header.end;
    if (!cut_here.empty()) {
      for (const auto& line : cut_here)
        append(line);
    } else if (header.end == EndStyle::slab) {
      if (!slab_reason.empty())
        append(slab_reason);
      if (is_rule(previous))
        append(previous);
      if (!slab_reason.empty() && text.ends_with("Object corrupt"))
        open->fault.title += " " + slab_reason.substr(0, slab_reason.find("] ") + 1);
    } else if (header.end == EndStyle::rule && is_rule(previous)) {
      append(previous);
    }
    cut_here.clear();
    append(text);
  }

  // The WARNING that SLUB of 6.12 prints inside its report, with its "cut here" line.
  bool takes_slab_warning(const Header& header, std::string_view text) const {
    return open && open->end == EndStyle::slab && !open->slab_warned &&
           std::string_view(header.kind) == "warning" &&
           text.find(" at mm/slub.c:") != std::string_view::npos;
  }

  // A "cut here" that no header followed: still a report, of unknown kind.
  void give_up_cut_here() {
    close();
    open.emplace();
    open->fault.kind = ListedKind("unknown").name;
    open->fault.title = cut_here.front();
    for (const auto& line : cut_here)
      append(line);
    cut_here.clear();
    close();
  }
};

FaultScanner::FaultScanner() : m_state(std::make_unique<State>()) {}
FaultScanner::~FaultScanner() = default;
FaultScanner::FaultScanner(FaultScanner&&) noexcept = default;
FaultScanner& FaultScanner::operator=(FaultScanner&&) noexcept = default;

void FaultScanner::feed_line(std::string_view line) {
  line = trim_end(line);
  if (auto text = kmsg_text(line)) {
    // One record may hold several lines, with the newlines escaped by the kernel.
    std::string_view rest = *text;
    for (size_t nl; (nl = rest.find("\\x0a")) != std::string_view::npos;) {
      feed_text(rest.substr(0, nl));
      rest.remove_prefix(nl + 4);
    }
    feed_text(rest);
    return;
  }
  // /dev/kmsg dictionary lines (" SUBSYSTEM=...") carry no message.
  if (starts_with(line, " ") && line.size() > 1 && line[1] >= 'A' && line[1] <= 'Z' &&
      line.find('=') != std::string_view::npos &&
      line.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_", 1) == line.find('='))
    return;
  feed_text(strip_console_prefix(line));
}

void FaultScanner::feed_text(std::string_view text) {
  State& s = *m_state;
  text = trim_end(text);
  std::string_view bare = trim(text);

  if (starts_with(bare, "------------[ cut here ]")) {
    // Inside a SLUB report it may be the start of SLUB's own WARNING.
    if (!(s.open && s.open->end == EndStyle::slab && !s.open->slab_warned))
      s.close();
    if (!s.cut_here.empty())
      s.give_up_cut_here();
    s.cut_here.emplace_back(text);
    s.previous = text;
    return;
  }

  const Header* header = nullptr;
  if (may_be_header(text)) {
    for (const auto& h : headers()) {
      if (matches_at_start(*h.pattern, text)) {
        header = &h;
        break;
      }
    }
  }

  if (s.open && s.open->stack_ended) {
    if (!header && s.open->end == EndStyle::slab && continues_slab_report(text)) {
      // Still after the stack dump: only more of these may follow.
      s.append(text);
      s.previous = text;
      s.slab_reason.clear();
      return;
    }
    if (!header && continues_report(text))
      s.open->stack_ended = false;
    else
      s.close();
  }

  if (header && s.open && !s.open->oops_seen && is_oops_line(text) &&
      (s.open->fault.kind == "oops" || s.open->fault.kind == "bug")) {
    // "BUG: kernel NULL pointer dereference" / "kernel BUG at" followed by their oops line.
    s.open->oops_seen = true;
    s.open->end = EndStyle::end_trace;
    s.append(text);
  } else if (header && s.takes_slab_warning(*header, text)) {
    for (const auto& line : s.cut_here)
      s.append(line);
    s.cut_here.clear();
    s.open->slab_warned = true;
    s.append(text);
  } else if (header) {
    s.start(*header, text);
  } else if (!s.cut_here.empty()) {
    // A WARN()'s own message sits between "cut here" and the WARNING line.
    s.cut_here.emplace_back(text);
    if (static_cast<int>(s.cut_here.size()) > k_max_cut_here_wait)
      s.give_up_cut_here();
  } else if (s.open) {
    s.append(text);
    if (s.open && ends_report(s.open->end, bare))
      s.close();
    else if (s.open && s.open->end == EndStyle::task && bare == "</TASK>")
      s.open->stack_ended = true; // closed by the next line unless it continues the report
    else if (s.open && s.open->end == EndStyle::slab &&
             (bare == "</TASK>" || starts_with(bare, "---[ end trace")))
      s.open->stack_ended = true; // its FIX lines may follow
  }
  s.previous = text;
  if (is_slab_reason(text))
    s.slab_reason = text;
  else if (!is_rule(bare))
    s.slab_reason.clear();
}

std::vector<KernelFault> FaultScanner::take_faults() {
  std::vector<KernelFault> faults = std::move(m_state->done);
  m_state->done.clear();
  return faults;
}

void FaultScanner::settle() {
  if (m_state->open && m_state->open->stack_ended)
    m_state->close();
}

void FaultScanner::flush() {
  m_state->close();
  if (!m_state->cut_here.empty())
    m_state->give_up_cut_here();
}

} // namespace labctl
