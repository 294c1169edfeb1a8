#include "cmd/commands.h"

#include "judge/trace_check.h"

#include <cstdio>

namespace labctl {

int command_trace_help(const GlobalOptions& global) {
  Profile profile = load_selected_profile(global);
  // The same list --trace patterns are checked against (check_trace_patterns).
  auto events = qemu_trace_events(profile.qemu).take();
  for (const auto& event : events)
    std::printf("%s\n", event.c_str());
  return to_int(ExitCode::passed);
}

} // namespace labctl
