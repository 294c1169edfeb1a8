#include "cmd/commands.h"

#include <spdlog/spdlog.h>

namespace labctl {

namespace {
int not_implemented(const char* name) {
  spdlog::error("{}: not implemented yet", name);
  return to_int(ExitCode::bad_input);
}
} // namespace

int command_shell(const GlobalOptions&, const ShellOptions&) { return not_implemented("shell"); }

} // namespace labctl
