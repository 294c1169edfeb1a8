#pragma once

#include <string>
#include <string_view>

namespace labctl {

// Every byte of `bytes` made visible on one line: printable ASCII and valid UTF-8 stay,
// a backslash doubles, \n \t \r become those two-character escapes, and any other control
// byte or byte of invalid UTF-8 becomes \xNN. Different inputs never give the same output.
std::string escape_bytes(std::string_view bytes);

// Like escape_bytes, but line breaks (LF, CRLF), tabs and backslashes stay as they are: for
// showing multi-line text (a console, a fault report) on a terminal or in XML without
// letting other control bytes or invalid UTF-8 through.
std::string printable_text(std::string_view bytes);

// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points above
// U+10FFFF) without the noncharacters U+FFFE and U+FFFF.
bool is_valid_utf8(std::string_view bytes);

} // namespace labctl
