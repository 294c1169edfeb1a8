#pragma once

// The module folders of a scenario and what the guest gets of each once it is built.

#include "core/error.h"
#include "image/guest_image.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace labctl {

// A module named in a scenario's `params` object or `load` list, with where it was written:
// whether the folder builds it is only known after kbuild, and a message then needs the line.
struct ModuleChoice {
  std::string name;   // as written ("amid"; '-' and '_' match alike)
  std::string params; // for a `params` entry: insmod arguments, "a=1 b=2"
  std::string where;  // "s.json:4: key 'amid'", for messages after the build
};

// True when `dir` holds a Kbuild, a Makefile or a dkms.conf (a DKMS source folder, built as
// `dkms build` builds it): what makes a folder a kernel module folder.
bool is_module_folder(const std::filesystem::path& dir);

// A module folder a scenario builds: its .ko files are installed in the guest and, unless
// `load` says otherwise, insmod'ed at boot in kbuild's modules.order.
struct ScenarioModule {
  std::filesystem::path dir;      // folder with a Kbuild, Makefile or dkms.conf
  std::string params;             // insmod arguments, "a=1 b=2", for a folder making one .ko
  std::string params_where;       // "s.json:3: key 'params'" when `params` was a string
  bool params_per_module = false; // `params` was an object keyed by module name
  std::vector<ModuleChoice> module_params;
  // What init insmods at boot, in this order; nullopt: every .ko in modules.order.
  // An empty list (`"load": false`) ships the modules and loads none.
  std::optional<std::vector<ModuleChoice>> load;
};

// A built folder's modules as the guest gets them (image/guest_image.h), given its .ko files in
// modules.order: each with the params written for it (never another module's), those that
// load at boot first, in load order, then those shipped only. Bad input, naming the file,
// line and key, when `params` or `load` names a module the folder does not build, or a
// params string is given for a folder that builds several.
Result<std::vector<GuestModuleFile>>
guest_modules_of(const ScenarioModule& module, const std::vector<std::filesystem::path>& ko_files);

} // namespace labctl
