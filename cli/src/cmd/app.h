#pragma once

namespace labctl {

// Parse the command line, run the subcommand, and return the process exit code.
int run_app(int argc, char** argv);

} // namespace labctl
