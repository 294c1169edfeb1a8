#pragma once

namespace labctl {

enum class Verbosity { quiet, normal, verbose };

// Configure spdlog's default logger on stderr: "labctl: message", debug with -v, warnings
// and errors only with -q, colour only on a terminal and never with NO_COLOR set.
void setup_logging(Verbosity verbosity);

// True when stderr is a terminal and NO_COLOR is unset.
bool use_color();

} // namespace labctl
