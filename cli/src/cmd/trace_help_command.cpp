#include "cmd/commands.h"

#include "util/process.h"

#include <fmt/format.h>

namespace labctl {

int command_trace_help(const GlobalOptions& global) {
  Profile profile = load_selected_profile(global);
  auto qemu = spawn({.argv = {profile.qemu, "-trace", "help"},
                     .in = Stream::null,
                     .out = Stream::inherit,
                     .err = Stream::inherit});
  if (!qemu)
    throw FatalError(environment_error(qemu.error().message));
  ExitStatus status = (*qemu)->wait();
  if (!status.success())
    throw FatalError(
        environment_error(fmt::format("{} -trace help: {}", profile.qemu, status.describe())));
  return to_int(ExitCode::passed);
}

} // namespace labctl
