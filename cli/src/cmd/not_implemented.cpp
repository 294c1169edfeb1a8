#include "cmd/commands.h"

#include <spdlog/spdlog.h>

namespace labctl {

namespace {
int not_implemented(const char* name) {
  spdlog::error("{}: not implemented yet", name);
  return to_int(ExitCode::bad_input);
}
} // namespace

int command_initrd(const GlobalOptions&, const InitrdOptions&) { return not_implemented("initrd"); }
int command_run(const GlobalOptions&, const RunOptions&) { return not_implemented("run"); }
int command_shell(const GlobalOptions&, const ShellOptions&) { return not_implemented("shell"); }
int command_list(const GlobalOptions&, const ListOptions&) { return not_implemented("list"); }

} // namespace labctl
