#pragma once

#include "core/error.h"
#include "util/fs.h"

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace labctl {

// The module name of a path as modules.dep spells it, with '-' as '_':
// "kernel/sound/pci/hda/snd-hda-intel.ko.xz" → "snd_hda_intel".
std::string module_name(std::string_view path);

// A kernel's modules.dep and modules.builtin (/lib/modules/V), read once.
class KernelModuleIndex {
public:
  // A missing or malformed modules.dep is an environment error; modules.builtin may be absent.
  static Result<KernelModuleIndex> load(const fs::path& modules_dir);

  enum class Provider { file, builtin, none };
  // Whether the kernel has the module `name` ('-' and '_' alike, ".ko" allowed) as a file,
  // built in, or not at all.
  Provider find(std::string_view name) const;

  // The module files to insmod for `names`, in load order: each once, after everything it
  // depends on, as paths relative to the modules dir the way modules.dep spells them.
  // Built-in modules need no file and are left out. An unknown name is a bad_input error
  // naming it; a cycle or a dependency without an entry is an environment error.
  Result<std::vector<std::string>> resolve(const std::vector<std::string>& names) const;

  const fs::path& dir() const { return m_dir; }

private:
  fs::path m_dir;
  std::unordered_map<std::string, std::vector<std::string>> m_deps_by_path;
  std::unordered_map<std::string, std::string> m_path_by_name;
  std::unordered_set<std::string> m_builtin;
};

// KernelModuleIndex::load(modules_dir) and resolve(names) in one call.
Result<std::vector<std::string>> resolve_module_deps(const fs::path& modules_dir,
                                                     const std::vector<std::string>& names);

// The `depends` field of a module's .modinfo section: the modules modpost found it takes
// symbols from, as module names ('_' form), in the order written; empty when none. `elf` is
// the plain ELF64 little-endian bytes (see load_module_file); anything else, or a section
// table that does not fit the file, is bad input naming `what`. (One section-table walk: no
// libelf dependency for CI to install, no modinfo process per .ko.)
Result<std::vector<std::string>> module_depends(std::string_view elf, const std::string& what);

// A module a scenario folder built, with what its .modinfo says it depends on.
struct ModuleDepends {
  std::string name; // module name, '_' form
  fs::path ko;
  fs::path folder;  // the scenario's module folder that built it
  bool load = true; // loaded at boot (else shipped for a step's modprobe)
  std::vector<std::string> depends;
};

// Indexes into `built` in the order init should insmod them: each after the built modules
// it depends on, otherwise in the given order (folders in scenario order, modules.order
// within one). A cycle among them is bad input naming it.
Result<std::vector<size_t>> dependency_order(const std::vector<ModuleDepends>& built);

// One of the kernel's own module files in a guest.
struct KernelModuleFile {
  std::string path; // relative to the modules dir, as modules.dep spells it
  bool boot = true; // init loads it; else only shipped, for a step's modprobe
};

// The kernel's own module files a guest needs, in load order, each once: the profile's
// `profile_names` and every name in a built module's depends that no built module provides,
// with their dependencies from modules.dep; built-in providers need none. Init loads those
// the profile or a module loaded at boot needs; those only `load: false` modules need are
// shipped. A depends name the kernel has neither as a module nor built in is bad input
// naming the .ko, its folder and the name.
Result<std::vector<KernelModuleFile>>
kernel_modules_for(const KernelModuleIndex& index, const std::vector<std::string>& profile_names,
                   const std::vector<ModuleDepends>& built, const std::string& release);

// The plain ELF bytes of a module file, decompressed when it is .ko.xz, .ko.zst or .ko.gz:
// busybox insmod hands the file to init_module(), which takes only uncompressed modules.
Result<std::string> load_module_file(const fs::path& path);

} // namespace labctl
