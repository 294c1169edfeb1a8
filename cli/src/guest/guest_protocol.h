#pragma once

// The host side of the control channel (ttyS1) spoken with initrd/init.sh and
// initrd/agent.sh. Requests are single lines; answers are framed by lines that start with
// "=<nonce>=", which no base64 line and no /dev/kmsg record can start with:
//
//   boot (nonce from labctl.boot=):  =N=MOD=<name>=OK
//                                    =N=MOD=<name>=FAIL=<base64 of insmod's output>
//                                    =N=READY=<uname -r>
//   RUN answer:                      =N=O=  base64 lines of stdout
//                                    =N=E=  base64 lines of stderr
//                                    =N=K=  /dev/kmsg records, one per line
//                                    =N=X=<exit code or ->=<T or ->
//
// KMSG is answered with K and X, PING and HALT with X alone.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// 16 lowercase hex characters from the kernel's random source; fresh for every request so
// that the output of an earlier step can never end a later one.
std::string make_nonce();

// The request line for `verb` (RUN, KMSG, PING, HALT), newline included. Only RUN carries a
// timeout (seconds, 0 = none on the guest side) and the command text, sent as base64.
std::string encode_request(std::string_view verb, const std::string& nonce, int timeout_s = 0,
                           std::string_view command = {});

// Standard base64 with padding, on one line.
std::string encode_base64(std::string_view bytes);
// Decode standard base64 (padding required, line breaks not allowed); false on anything else.
bool decode_base64(std::string_view text, std::string& out);

// What one step produced in the guest.
struct StepOutput {
  int exit_code = -1;        // as sh reports it (128+N when killed by signal N); -1 unknown
  std::string out, err;
  bool guest_timed_out = false; // the agent killed the step at its timeout
  std::vector<std::string> kmsg; // new /dev/kmsg records, "level,seq,usec,flags;text"
};

// Decodes one answer from bytes arriving in chunks of any size. Bytes before the first
// "=<nonce>=" line (boot noise, answers to older requests) are ignored and kept for
// diagnostics; carriage returns are ignored everywhere.
class ResponseDecoder {
public:
  static constexpr size_t k_default_limit = 64 * 1024 * 1024;

  explicit ResponseDecoder(std::string nonce, size_t limit = k_default_limit);

  // Consume bytes; returns how many were used (fewer than given only once the answer is
  // complete or the decoder has failed: the rest belongs to whatever comes next).
  size_t feed(std::string_view bytes);

  bool done() const { return m_done; }
  bool failed() const { return !m_error.empty(); }
  // Why decoding failed, e.g. "output exceeds 67108864 bytes".
  const std::string& error() const { return m_error; }
  // What preceded the answer (at most the last 64 KiB).
  const std::string& garbage() const { return m_garbage; }

  // The decoded output; only meaningful once done().
  StepOutput take();

private:
  enum class Section { none, out, err, kmsg };

  void line(std::string_view text);
  void marker(std::string_view rest);
  void fail(std::string message);
  void account(size_t bytes);

  std::string m_prefix; // "=<nonce>="
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
