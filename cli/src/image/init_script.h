#pragma once

#include "core/error.h"

#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// A module as /init loads it: reported under `name`, insmod'ed from `guest_path`.
struct GuestModule {
  std::string name;
  std::string guest_path;
  std::string params; // "a=1 b='x y'", see split_module_params
};

// The line of initrd/init.sh that render_init_script replaces.
inline constexpr std::string_view k_modules_placeholder = "@LABCTL_MODULES@";

// Split a params string into insmod arguments, one per parameter, the way a shell splits
// words: whitespace separates, '...' keeps everything literally, "..." keeps everything
// but \" and \\, a backslash outside quotes escapes the next character. A value that
// contains whitespace is wrapped in double quotes for the kernel (b='x y' becomes b="x y"),
// because insmod joins its arguments with spaces and the kernel splits them again, honouring
// only double quotes. Bad input: an unterminated quote, or a double quote inside such a
// value (the kernel has no way to escape it).
Result<std::vector<std::string>> split_module_params(std::string_view params);

// /init from its template: the line holding only the placeholder becomes one
// `labctl_load NAME PATH PARAM...` line per module, in order, every word shell-quoted.
// An environment error when the template has no such line (or several: a broken
// installation); bad input when a module name is not made of letters, digits, '_', '-' and
// '.' (it is framed by '=' on the control channel), a guest path is not absolute, or params
// do not split.
Result<std::string> render_init_script(std::string_view template_text,
                                       const std::vector<GuestModule>& modules);

} // namespace labctl
