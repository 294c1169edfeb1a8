#include "host/decompress.h"

#include <fmt/format.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>

namespace labctl {

namespace {

// Memory liblzma may use for its dictionary (kernel payloads use 32 MiB).
constexpr uint64_t k_lzma_memlimit = uint64_t{1} << 30;
// Grows `out` so a decoder can write after `used` bytes; false once more than `max` bytes
// came out (the buffer holds at most max + 1, enough to notice).
bool make_room(std::string& out, size_t used, size_t max) {
  if (used > max)
    return false;
  if (used < out.size())
    return true;
  size_t want = std::max<size_t>(out.size() * 2, size_t{1} << 20);
  out.resize(std::min(want, max + 1));
  return true;
}

// The first output buffer: the expected size plus one byte when it is believable.
size_t initial_size(size_t hint, size_t max) {
  return hint > 0 && hint <= max ? hint + 1 : 1;
}

Error too_big(Compression c, size_t max) {
  return bad_input(
      fmt::format("{} stream decompresses to more than {} MiB", compression_name(c), max >> 20));
}

std::string_view lzma_error_text(lzma_ret r) {
  switch (r) {
  case LZMA_FORMAT_ERROR:
    return "not in the expected format";
  case LZMA_DATA_ERROR:
    return "compressed data is corrupt";
  case LZMA_BUF_ERROR:
    return "truncated: input ended before the end of the stream";
  case LZMA_MEM_ERROR:
    return "out of memory";
  case LZMA_MEMLIMIT_ERROR:
    return "needs more memory than the 1 GiB limit";
  case LZMA_OPTIONS_ERROR:
    return "uses unsupported options";
  case LZMA_UNSUPPORTED_CHECK:
    return "uses an unsupported integrity check";
  default:
    return "decoder error";
  }
}

Result<std::string> decompress_lzma(std::string_view data, Compression c, size_t max, size_t hint) {
  lzma_stream s = LZMA_STREAM_INIT;
  lzma_ret r = c == Compression::xz ? lzma_stream_decoder(&s, k_lzma_memlimit, 0)
                                    : lzma_alone_decoder(&s, k_lzma_memlimit);
  if (r != LZMA_OK)
    return environment_error(
        fmt::format("cannot start the {} decoder: {}", compression_name(c), lzma_error_text(r)));
  std::unique_ptr<lzma_stream, void (*)(lzma_stream*)> guard(&s, lzma_end);
  std::string out(initial_size(hint, max), '\0');
  s.next_in = reinterpret_cast<const uint8_t*>(data.data());
  s.avail_in = data.size();
  size_t used = 0;
  for (;;) {
    if (!make_room(out, used, max))
      return too_big(c, max);
    s.next_out = reinterpret_cast<uint8_t*>(out.data() + used);
    s.avail_out = out.size() - used;
    r = lzma_code(&s, LZMA_FINISH);
    used = out.size() - s.avail_out;
    if (r == LZMA_STREAM_END)
      break;
    if (r != LZMA_OK)
      return bad_input(fmt::format("{} stream {} (after {} bytes of output)", compression_name(c),
                                   lzma_error_text(r), used));
  }
  if (used > max)
    return too_big(c, max);
  out.resize(used);
  return out;
}

Result<std::string> decompress_gzip(std::string_view data, size_t max, size_t hint) {
  z_stream z{};
  // 16 + MAX_WBITS: gzip wrapper only, not raw deflate or zlib.
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
    return environment_error("cannot start the gzip decoder");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  std::string out(initial_size(hint, max), '\0');
  size_t used = 0, consumed = 0;
  for (;;) {
    if (!make_room(out, used, max))
      return too_big(Compression::gzip, max);
    if (z.avail_in == 0) {
      size_t chunk = std::min<size_t>(data.size() - consumed, UINT_MAX);
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + consumed));
      z.avail_in = static_cast<uInt>(chunk);
      consumed += chunk;
    }
    size_t room = std::min<size_t>(out.size() - used, UINT_MAX);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z.avail_out = static_cast<uInt>(room);
    int r = inflate(&z, Z_NO_FLUSH);
    used += room - z.avail_out;
    if (r == Z_STREAM_END)
      break;
    if (r == Z_BUF_ERROR && z.avail_in == 0 && consumed == data.size())
      return bad_input(fmt::format(
          "gzip stream truncated: input ended before the end of the stream (after {} bytes "
          "of output)",
          used));
    if (r != Z_OK && r != Z_BUF_ERROR)
      return bad_input(fmt::format("gzip stream corrupt: {} (after {} bytes of output)",
                                   z.msg ? z.msg : "inflate error", used));
  }
  if (used > max)
    return too_big(Compression::gzip, max);
  out.resize(used);
  return out;
}

Result<std::string> decompress_zstd(std::string_view data, size_t max, size_t hint) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx)
    return environment_error("cannot start the zstd decoder");
  std::string out(initial_size(hint, max), '\0');
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t used = 0;
  for (;;) {
    if (!make_room(out, used, max))
      return too_big(Compression::zstd, max);
    ZSTD_outBuffer o{out.data(), out.size(), used};
    size_t r = ZSTD_decompressStream(ctx.get(), &o, &in);
    used = o.pos;
    if (ZSTD_isError(r))
      return bad_input(fmt::format("zstd stream corrupt: {} (after {} bytes of output)",
                                   ZSTD_getErrorName(r), used));
    if (r == 0)
      break;
    // Out of input while the decoder still had output room: the frame is cut short.
    if (in.pos == in.size && o.pos < o.size)
      return bad_input(fmt::format(
          "zstd stream truncated: input ended before the end of the frame (after {} bytes of "
          "output)",
          used));
  }
  if (used > max)
    return too_big(Compression::zstd, max);
  out.resize(used);
  return out;
}

Result<std::string> decompress_with_hint(std::string_view data, Compression c, size_t max,
                                         size_t hint) {
  switch (c) {
  case Compression::none:
    if (data.size() > max)
      return too_big(c, max);
    return std::string(data);
  case Compression::gzip:
    return decompress_gzip(data, max, hint);
  case Compression::xz:
  case Compression::lzma:
    return decompress_lzma(data, c, max, hint);
  case Compression::zstd:
    return decompress_zstd(data, max, hint);
  }
  return bad_input("unknown compression");
}

} // namespace

Compression detect_compression(std::string_view data) {
  auto starts = [&](std::string_view magic) { return data.substr(0, magic.size()) == magic; };
  if (starts({"\xfd"
              "7zXZ\0",
              6}))
    return Compression::xz;
  if (starts("\x1f\x8b\x08"))
    return Compression::gzip;
  if (starts("\x28\xb5\x2f\xfd"))
    return Compression::zstd;
  // The legacy .lzma header starts with the usual properties byte 0x5d: a weak magic, so last.
  if (starts({"\x5d\x00\x00", 3}))
    return Compression::lzma;
  return Compression::none;
}

std::string_view compression_name(Compression compression) {
  switch (compression) {
  case Compression::none:
    return "uncompressed";
  case Compression::gzip:
    return "gzip";
  case Compression::xz:
    return "xz";
  case Compression::zstd:
    return "zstd";
  case Compression::lzma:
    return "lzma";
  }
  return "unknown";
}

Result<std::string> decompress(std::string_view data, Compression compression, size_t max_output,
                               size_t size_hint) {
  return decompress_with_hint(data, compression, max_output, size_hint);
}

} // namespace labctl
