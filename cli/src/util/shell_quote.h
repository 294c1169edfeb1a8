#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// Quote one word for a POSIX shell; words made of safe characters stay as they are.
std::string shell_quote(std::string_view word);

// Quote and join an argv so it can be pasted into a shell.
std::string shell_join(const std::vector<std::string>& argv);

} // namespace labctl
