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

// A kernel's modules.dep, modules.builtin and modules.softdep (/lib/modules/V), read once,
// with the lines of modules.alias that soft dependencies name.
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

  // resolve(names), following soft dependencies too, as modprobe does: a module's
  // `softdep NAME pre: A B post: C` (modules.softdep, from MODULE_SOFTDEP) loads A and B
  // before it and C after it, each with its own dependencies. A soft dependency's name is a
  // module or an alias (modules.alias; "crc32c" is crc32c_generic and crc32c_intel): every
  // module it names comes along; one the kernel has built in, or nowhere, brings nothing.
  // A soft dependency that would close a cycle is left out.
  Result<std::vector<std::string>>
  resolve_with_softdeps(const std::vector<std::string>& names) const;

  // The module files a soft dependency's name brings (see resolve_with_softdeps), as modules.dep
  // spells their paths; empty when built in or unknown.
  std::vector<std::string> soft_dependency_files(std::string_view name) const;

  const fs::path& dir() const { return m_dir; }

private:
  Result<std::vector<std::string>> walk(const std::vector<std::string>& names,
                                        bool follow_softdeps) const;

  struct SoftDeps {
    std::vector<std::string> pre, post; // module names or aliases, as written
  };
  fs::path m_dir;
  std::unordered_map<std::string, std::vector<std::string>> m_deps_by_path;
  std::unordered_map<std::string, std::string> m_path_by_name;
  std::unordered_set<std::string> m_builtin;
  std::unordered_map<std::string, SoftDeps> m_softdeps; // by module name
  // modules.alias entries (pattern, module name) matching a soft dependency's name.
  std::vector<std::pair<std::string, std::string>> m_soft_aliases;
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

// The soft dependencies of a module's .modinfo (`softdep=pre: a b post: c`, what
// MODULE_SOFTDEP writes), names as written, pre and post alike; empty when none. Errors as
// module_depends.
Result<std::vector<std::string>> module_softdeps(std::string_view elf, const std::string& what);

// A module a scenario folder built, with what its .modinfo says it depends on.
struct ModuleDepends {
  std::string name; // module name, '_' form
  fs::path ko;
  fs::path folder;  // the scenario's module folder that built it
  bool load = true; // loaded at boot (else shipped for a step's modprobe)
  std::vector<std::string> depends;
  std::vector<std::string> softdeps; // module_softdeps: kernel modules it may want first
};

// Indexes into `built` in the order init should insmod them: each after the built modules
// it depends on, otherwise in the given order (folders in scenario order, modules.order
// within one). A cycle among them is bad input naming it.
Result<std::vector<size_t>> dependency_order(const std::vector<ModuleDepends>& built);

// One of the kernel's own module files in a guest.
struct KernelModuleFile {
  std::string path; // relative to the modules dir, as modules.dep spells it
  bool boot = true; // init loads it; else only shipped, for a step's modprobe
  // Only a soft dependency brings it: failing to load it fails nothing (crc32c_intel on a
  // CPU without SSE 4.2), as modprobe goes on when a softdep fails.
  bool optional = false;
};

// The kernel's own module files a guest needs, in load order, each once: the profile's
// `profile_names` and every name in a built module's depends that no built module provides,
// with their dependencies from modules.dep and their soft dependencies (optional: see
// KernelModuleFile), and the built modules' own soft dependencies (optional too); built-in
// providers need none. Init loads those
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
