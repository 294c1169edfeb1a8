#pragma once

#include "config/scenario.h"
#include "image/guest_image.h"
#include "run/lab_setup.h"
#include "vm/guest_session.h"

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace labctl {

// What a guest should contain and how QEMU should run it.
struct GuestRequest {
  std::vector<ScenarioModule> modules;
  std::map<std::string, std::filesystem::path> files;
  ArtifactFolder artifacts; // made by the caller; initrd.txt here, console.log etc. at boot
  bool gdb = false;         // a GDB stub on a unix socket only root can reach
  bool gdb_wait = false;
  std::string trace; // QEMU trace event pattern; empty: none
};

// A guest ready to start: the session configuration and the modules it will load.
struct PreparedGuest {
  GuestSession::Config config;
  std::vector<GuestModuleFile> modules;
  std::map<std::string, std::filesystem::path> module_folders;         // see AssembledGuest
  std::vector<std::pair<std::filesystem::path, std::string>> warnings; // see AssembledGuest
};

// A guest's modules built and its initrd packed.
struct AssembledGuest {
  std::vector<GuestModuleFile> modules; // in load order: each after those it depends on
  // The folder that built each module, by module name (module_name: '-' as '_').
  std::map<std::string, std::filesystem::path> module_folders;
  GuestImage image;
  // Kernel modules init loads only as soft dependencies (KernelModuleFile::optional).
  std::set<std::string> optional_modules;
  // The folders whose build printed warnings, with them (cached builds keep theirs).
  std::vector<std::pair<std::filesystem::path, std::string>> warnings;
};

// The one guest-image assembly of `run`, `shell` and `labctl initrd`: build each module
// folder (cached; each links against the Module.symvers of the folders before it), refuse two
// folders making a module of the same name (bad input naming both), order the modules after
// those they depend on (their .modinfo depends), and pack the initrd with the modules, the
// kernel's own modules they depend on and the profile's kernel_modules (kernel_modules_for:
// a provider the kernel lacks is bad input), one modules.dep for all, and `files`.
Result<AssembledGuest> assemble_guest(const LabSetup& lab,
                                      const std::vector<ScenarioModule>& modules,
                                      const std::map<std::string, std::filesystem::path>& files,
                                      const std::function<void(const std::string&)>& progress);

// Build the modules (cached), pack the initrd (cached), write initrd.txt into the
// request's artifacts (a folder already made) and fill in the QEMU launch. A module that does not
// compile is a `failed` Error with the compiler output.
Result<PreparedGuest> prepare_guest(const LabSetup& lab, const GuestRequest& request,
                                    const std::function<void(const std::string&)>& progress);

} // namespace labctl
