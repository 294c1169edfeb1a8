#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace labctl {

// Where the guest kernel placed one module: its .ko on the host and the address of each
// ELF section, as /sys/module/<name>/sections/ lists them.
struct LoadedModule {
  std::string name; // as the kernel names it (dashes become underscores)
  std::filesystem::path ko;
  std::vector<std::pair<std::string, std::string>> sections; // ".text" -> "0xffffffffc0..."
};

// The kernel's name for a module built as `ko_stem` (a-b.ko is loaded as a_b).
std::string kernel_module_name(std::string_view ko_stem);

// The output of the agent's SECTIONS verb ("<module>/sections/<section>:<address>" for every
// section of each named module whose name starts with '.'), per module; lines that do not
// fit are skipped.
std::map<std::string, std::vector<std::pair<std::string, std::string>>>
parse_module_sections(std::string_view text);

// A gdb command file: connect to the stub on the unix socket `stub`, then add-symbol-file each
// module at its load addresses (.text as the address, the rest as -s SECTION ADDRESS) and
// add the .ko's folder to the source path. .init.* sections are kept (their memory is freed
// after loading, but leaving them out would put their symbols at address 0).
std::string gdb_script(const std::filesystem::path& stub, const std::vector<LoadedModule>& modules);

} // namespace labctl
