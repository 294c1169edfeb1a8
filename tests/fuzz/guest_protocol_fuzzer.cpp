// Fuzz target: the control-channel decoders (BootDecoder, then ResponseDecoder, as
// GuestSession uses them). The input is what the guest sent; it is decoded once in one
// piece and once in chunks whose sizes come from the input, and both must agree: how the
// bytes were split on the way must never change what labctl concludes.
#include "guest/guest_protocol.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

// The nonces of the recorded data in tests/data/guest, so the seeds decode.
constexpr const char* k_boot_nonce = "0123456789abcdef";
constexpr const char* k_answer_nonce = "559ba7391bfccf1d";

struct Outcome {
  bool ready = false;
  size_t modules = 0;
  std::string release;
  bool boot_failed = false;
  bool done = false;
  bool failed = false;
  std::string error;
  labctl::StepOutput output;
};

// Split `bytes` into pieces of 1..64 bytes whose lengths come from the bytes themselves.
template <typename Feed> void feed_chunked(std::string_view bytes, Feed feed) {
  size_t i = 0, k = 0;
  while (i < bytes.size()) {
    size_t n = 1 + static_cast<uint8_t>(bytes[k++ % bytes.size()]) % 64;
    n = std::min(n, bytes.size() - i);
    feed(bytes.substr(i, n));
    i += n;
  }
}

Outcome decode(std::string_view bytes, bool chunked, size_t limit) {
  Outcome o;
  labctl::BootDecoder boot(k_boot_nonce);
  labctl::ResponseDecoder response(k_answer_nonce, limit);
  auto feed = [&](std::string_view piece) {
    if (!boot.ready()) {
      size_t used = boot.feed(piece);
      if (used > piece.size())
        __builtin_trap();
      piece.remove_prefix(used);
    }
    if (boot.ready() && !piece.empty()) {
      size_t used = response.feed(piece);
      if (used > piece.size())
        __builtin_trap();
    }
  };
  if (chunked)
    feed_chunked(bytes, feed);
  else
    feed(bytes);
  o.ready = boot.ready();
  o.modules = boot.modules().size();
  o.release = boot.kernel_release();
  o.boot_failed = boot.failed();
  o.done = response.done();
  o.failed = response.failed();
  o.error = response.error();
  if (o.done && !o.failed)
    o.output = response.take();
  return o;
}

bool same(const Outcome& a, const Outcome& b) {
  return a.ready == b.ready && a.modules == b.modules && a.release == b.release &&
         a.boot_failed == b.boot_failed && a.done == b.done && a.failed == b.failed &&
         a.error == b.error && a.output.exit_code == b.output.exit_code &&
         a.output.out == b.output.out && a.output.err == b.output.err &&
         a.output.guest_timed_out == b.output.guest_timed_out && a.output.kmsg == b.output.kmsg;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The real limit, and a small one so that the limit itself gets exercised.
  for (size_t limit : {labctl::ResponseDecoder::k_default_limit, size_t{256}}) {
    Outcome whole = decode(bytes, false, limit);
    Outcome pieces = decode(bytes, true, limit);
    if (!same(whole, pieces))
      __builtin_trap();
    // A decoded answer holds no more than the guest sent.
    if (whole.output.out.size() + whole.output.err.size() > size)
      __builtin_trap();
  }
  return 0;
}
