#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace labctl {

// A Linux errno value by its name and meaning: glibc's for the user-visible ones
// ("ENOENT", "No such file or directory"), the kernel's own table for those it keeps to
// itself (512 ERESTARTSYS to 531, e.g. 517 EPROBE_DEFER, "probe deferred"), which glibc
// does not know.
struct ErrnoName {
  std::string name;
  std::string meaning;
};
std::optional<ErrnoName> errno_name(int value);

// `text` with every errno it shows named after it: "Unknown error 517" and "error -517"
// (also after "err", "returned", "ret", "rc", with a space or '=') become
// "... (EPROBE_DEFER: probe deferred ...)". Unknown values stay as they are.
std::string name_errnos(std::string_view text);

} // namespace labctl
