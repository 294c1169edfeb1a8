#pragma once

#include "core/error.h"
#include "util/fs.h"

#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// The module name of a path as modules.dep spells it, with '-' as '_':
// "kernel/sound/pci/hda/snd-hda-intel.ko.xz" → "snd_hda_intel".
std::string module_name(std::string_view path);

// The module files to insmod for `names`, in load order: each once, after everything it
// depends on, as paths relative to modules_dir the way modules.dep spells them. Names match
// with '-' and '_' alike and may carry a ".ko" suffix; modules built into the kernel
// (modules.builtin) need no file and are left out. An unknown name is a bad_input error
// naming it; a missing or malformed modules.dep is an environment error.
Result<std::vector<std::string>> resolve_module_deps(const fs::path& modules_dir,
                                                     const std::vector<std::string>& names);

// The plain ELF bytes of a module file, decompressed when it is .ko.xz, .ko.zst or .ko.gz:
// busybox insmod hands the file to init_module(), which takes only uncompressed modules.
Result<std::string> load_module_file(const fs::path& path);

} // namespace labctl
