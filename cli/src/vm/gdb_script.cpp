#include "vm/gdb_script.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

namespace labctl {

namespace {

bool is_address(std::string_view s) {
  return s.size() > 2 && s.substr(0, 2) == "0x" &&
         s.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string_view::npos;
}

// gdb splits add-symbol-file arguments like a shell (libiberty's buildargv).
std::string gdb_word(const std::string& word) {
  if (word.find_first_of(" \t\"'\\") == std::string::npos)
    return word;
  std::string out = "\"";
  for (char c : word) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

} // namespace

std::string kernel_module_name(std::string_view ko_stem) {
  std::string name(ko_stem);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::map<std::string, std::vector<std::pair<std::string, std::string>>>
parse_module_sections(std::string_view text) {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> out;
  std::istringstream in{std::string(text)};
  std::string line;
  constexpr std::string_view k_middle = "/sections/";
  while (std::getline(in, line)) {
    // "<module>/sections/<section>:<address>"
    auto middle = line.find(k_middle);
    auto colon = line.rfind(':');
    if (middle == std::string::npos || middle == 0 || colon == std::string::npos ||
        colon < middle + k_middle.size() + 1)
      continue;
    std::string section = line.substr(middle + k_middle.size(), colon - middle - k_middle.size());
    std::string address = line.substr(colon + 1);
    if (section[0] != '.' || !is_address(address))
      continue;
    out[line.substr(0, middle)].emplace_back(section, address);
  }
  return out;
}

std::string gdb_script(const std::filesystem::path& stub,
                       const std::vector<LoadedModule>& modules) {
  std::string script = "# Written by labctl: the guest's GDB stub and its modules at their load "
                       "addresses.\n";
  // gdb takes the rest of the line as the name; a path to a unix socket connects to it.
  script += fmt::format("target remote {}\n", stub.string());
  for (const auto& m : modules) {
    std::string text;
    std::string rest;
    for (const auto& [section, address] : m.sections) {
      // The kernel's own symbol tables for the module, not the .ko's.
      if (section == ".symtab" || section == ".strtab")
        continue;
      if (section == ".text")
        text = address;
      else
        rest += fmt::format(" -s {} {}", section, address);
    }
    if (text.empty() && rest.empty())
      continue;
    script += fmt::format("add-symbol-file {}{}{}\n", gdb_word(m.ko.string()),
                          text.empty() ? "" : " " + text, rest);
    // The module's sources were built beside its .ko; gdb finds them there by name.
    script += fmt::format("directory {}\n", gdb_word(m.ko.parent_path().string()));
  }
  return script;
}

} // namespace labctl
