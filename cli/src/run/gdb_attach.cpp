#include "run/gdb_attach.h"

#include "util/interrupt.h"
#include "vm/gdb_script.h"

#include <fmt/format.h>

#include <cstdio>
#include <unistd.h>

namespace labctl {

namespace {

using Clock = std::chrono::steady_clock;

// How often labctl asks QEMU whether gdb has resumed the halted guest.
constexpr auto k_resume_poll = std::chrono::milliseconds(250);

// One line on stderr, clearing a progress line that may be drawn there.
void tell(const std::string& line) {
  std::fprintf(stderr, "%s%s\n", ::isatty(STDERR_FILENO) ? "\r\033[K" : "", line.c_str());
  std::fflush(stderr);
}

} // namespace

Status attach_gdb(GuestSession& session, const PreparedGuest& guest, bool wait) {
  const fs::path& stub = session.vm().gdb_socket();
  std::vector<std::string> names;
  for (const auto& m : guest.modules)
    if (m.load)
      names.push_back(kernel_module_name(m.name));
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> sections;
  if (!names.empty()) {
    auto deadline = Clock::now() + std::chrono::seconds(60);
    auto step = session.run_verb("SECTIONS", names, 30, deadline, deadline);
    if (step.outcome != GuestSession::Outcome::ok || step.exit_code != 0)
      return failure(fmt::format("gdb: could not read the module section addresses from "
                                 "/sys/module ({}){}",
                                 GuestSession::describe(step.outcome),
                                 step.err.empty() ? "" : ": " + step.err));
    sections = parse_module_sections(step.out);
  }
  std::vector<LoadedModule> loaded;
  for (const auto& m : guest.modules) {
    if (!m.load)
      continue; // not loaded at boot: no sections to name yet
    std::string name = kernel_module_name(m.name);
    if (sections[name].empty())
      return failure(fmt::format("gdb: /sys/module/{}/sections/ lists no sections", name));
    loaded.push_back({name, m.ko, sections[name]});
  }
  const ArtifactFolder& artifacts = guest.config.artifacts;
  fs::path script = artifacts.path(Artifact::gdb_script);
  if (auto s = artifacts.write(Artifact::gdb_script, gdb_script(stub, loaded)); !s)
    return s.error();

  if (!wait) {
    tell(fmt::format("gdb stub on {} (root only); attach with: gdb -x {}", stub.string(),
                     script.string()));
    return ok_status();
  }
  if (!session.vm().stop_cpus())
    return failure("gdb: QEMU did not halt the guest (QMP stop failed)");
  tell(fmt::format("guest halted for gdb; attach with: gdb -x {}   ('continue' resumes it)",
                   script.string()));
  for (;;) {
    // Keep the console moving while the user takes their time in gdb.
    switch (session.vm().pump(nullptr, Clock::now() + k_resume_poll)) {
    case GuestLink::Event::interrupted:
      return Error{ExitCode::interrupted, "interrupted while waiting for gdb"};
    case GuestLink::Event::qemu_exited:
      return failure("QEMU exited while waiting for gdb");
    default:
      break;
    }
    auto running = session.vm().cpus_running();
    if (!running)
      return running.error();
    if (*running)
      return ok_status();
  }
}

} // namespace labctl
