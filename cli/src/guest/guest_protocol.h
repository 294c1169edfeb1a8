#pragma once

// The host side of the control channel spoken with initrd/init.sh and initrd/agent.sh:
// requests, nonces, the boot report and framed answers, as docs/protocol.md describes them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// 16 lowercase hex characters from the kernel's random source; fresh for every request so
// that the output of an earlier step can never end a later one.
std::string make_nonce();

// The request line for `verb`, newline included. RUN carries a timeout (seconds, 0 = none on
// the guest side) and the command text, sent as base64; KMSG and HALT nothing more; an
// agent verb (SECTIONS, SHELL, RESIZE, ALIVE) a timeout and `command` as it is: its
// arguments, separated by spaces, each of [A-Za-z0-9_.+-].
std::string encode_request(std::string_view verb, const std::string& nonce, int timeout_s = 0,
                           std::string_view command = {});

// CRC-32 as zlib and busybox's crc32 applet compute it (reflected, polynomial 0xedb88320).
uint32_t crc32(std::string_view bytes);

// How a step ended, as the agent saw it (the <how> field of the X marker).
enum class StepEnd {
  exited,    // by itself (or by a signal from elsewhere: exit code 128+N)
  timed_out, // the agent killed it at its timeout
  stuck,     // killed at its timeout, still not ended 5 s later: exit status unknown
  lost,      // its exit status was lost (the process waiting for it was killed)
  not_run,   // the command text did not arrive intact; nothing ran
};

// What one step produced in the guest.
struct StepOutput {
  int exit_code = -1; // as sh reports it (128+N when killed by signal N); -1 unknown
  std::string out, err;
  bool guest_timed_out = false; // the agent killed the step at its timeout
  StepEnd end = StepEnd::exited;
  std::vector<std::string> kmsg; // new /dev/kmsg records, "level,seq,usec,flags;text"
};

// Why the exit code of `output` is unknown (exit_code -1), in words; empty when it is known.
std::string unknown_exit_reason(const StepOutput& output);

// The start of every error for an answer that did not arrive intact.
inline constexpr std::string_view k_damaged_answer = "answer from the guest was damaged: ";

// Decodes one answer from bytes arriving in chunks of any size. Bytes before the first
// "=<nonce>=" line (boot noise, answers to older requests) are ignored and kept for
// diagnostics; carriage returns are ignored everywhere.
class ResponseDecoder {
public:
  static constexpr size_t k_default_limit = 64 * 1024 * 1024;

  explicit ResponseDecoder(std::string nonce, size_t limit = k_default_limit);

  // An answer to RUN must have its O and E sections: without them, a damaged marker line
  // could pass for empty output.
  void require_streams() { m_require_streams = true; }
  // Also watch for init's report that the agent died (=<boot nonce>=AGENT=...): it fails
  // the answer at once instead of leaving the host to wait for the step's deadline.
  void watch_agent(const std::string& boot_nonce) { m_boot_prefix = "=" + boot_nonce + "="; }

  // Consume bytes; returns how many were used (fewer than given only once the answer is
  // complete or the decoder has failed: the rest belongs to whatever comes next).
  size_t feed(std::string_view bytes);

  bool done() const { return m_done; }
  bool failed() const { return !m_error.empty(); }
  // Why decoding failed, e.g. "output exceeds 67108864 bytes", "answer from the guest was
  // damaged: stdout has CRC-32 1a2b3c4d, the guest sent 5e6f7a8b".
  const std::string& error() const { return m_error; }
  // init reported that the agent exited while this answer was awaited (error() says how:
  // "the guest agent died (killed by signal 9; init restarts it)").
  bool agent_died() const { return m_agent_died; }
  // What preceded the answer (at most the last 64 KiB).
  const std::string& garbage() const { return m_garbage; }

  // The decoded output; only meaningful once done().
  StepOutput take();

private:
  enum class Section { none, out, err, kmsg };

  void line(std::string_view text);
  void marker(std::string_view rest);
  void fail(std::string message);
  void damaged(std::string message) { fail(std::string(k_damaged_answer) + message); }
  bool agent_report(std::string_view text);
  void account(size_t bytes);

  std::string m_prefix;      // "=<nonce>="
  std::string m_boot_prefix; // "=<boot nonce>=", empty: not watched
  bool m_require_streams = false;
  bool m_agent_died = false;
  uint32_t m_out_crc = 0, m_err_crc = 0;
  size_t m_limit;
  size_t m_buffered = 0;
  std::string m_partial;
  Section m_section = Section::none;
  int m_sections_seen = 0; // bit per Section
  bool m_started = false;
  bool m_done = false;
  std::string m_error;
  std::string m_garbage;
  std::string m_out64, m_err64;
  StepOutput m_output;
};

// One module's insmod as init reported it.
struct ModuleLoad {
  std::string name;
  bool ok = false;
  std::string error_text; // insmod's output when it failed
  // Set by the host, not the guest: a soft dependency, whose failure fails nothing.
  bool optional = false;

  // Its failure counts: it did not load and is no soft dependency.
  bool failed() const { return !ok && !optional; }
};

// Decodes what init reports on the control channel while the guest boots.
class BootDecoder {
public:
  explicit BootDecoder(std::string boot_nonce);

  // Consume bytes; returns how many were used (fewer than given only once READY was seen:
  // the rest belongs to the first answer).
  size_t feed(std::string_view bytes);

  const std::vector<ModuleLoad>& modules() const { return m_modules; }
  bool ready() const { return m_ready; }
  std::string kernel_release() const { return m_release; }
  // A line carrying the boot nonce that is not a known report (a bug, or corruption).
  bool failed() const { return !m_error.empty(); }
  const std::string& error() const { return m_error; }

private:
  void line(std::string_view text);

  std::string m_prefix;
  std::string m_partial;
  bool m_skipping = false; // dropping the rest of an overlong line
  std::vector<ModuleLoad> m_modules;
  bool m_ready = false;
  std::string m_release;
  std::string m_error;
};

} // namespace labctl
