#pragma once

// Single compressed streams (gzip, xz, legacy lzma, zstd) as kernel images carry them.

#include "core/error.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace labctl {

// A compression format recognised by the magic bytes at the start of a stream.
enum class Compression { none, gzip, xz, zstd, lzma };

// The format whose magic starts `data`; none when no known magic matches.
Compression detect_compression(std::string_view data);

// "gzip", "xz", "zstd", "lzma" or "uncompressed".
std::string_view compression_name(Compression compression);

// Decompress the single stream at the start of `data` (bytes after its end are ignored);
// the error names the format and says whether it was corrupt, truncated or over max_output.
// `size_hint`, the expected output size when known, only sizes the first buffer.
Result<std::string> decompress(std::string_view data, Compression compression, size_t max_output,
                               size_t size_hint = 0);

} // namespace labctl
