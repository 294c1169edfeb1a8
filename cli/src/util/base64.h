#pragma once

#include <string>
#include <string_view>

namespace labctl {

// Standard base64 (RFC 4648 alphabet) with padding, on one line.
std::string encode_base64(std::string_view bytes);

// Decode standard base64 into the end of `out` (padding required, line breaks not allowed);
// false on anything else.
bool decode_base64(std::string_view text, std::string& out);

} // namespace labctl
