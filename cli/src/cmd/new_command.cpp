#include "cmd/commands.h"

#include "config/data_dir.h"
#include "util/fs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace labctl {

namespace {

constexpr std::string_view k_placeholder = "@NAME@";
constexpr size_t k_max_name = 20; // keeps the template's lines within checkpatch's 100 columns

std::string substitute(std::string text, const std::string& name) {
  for (size_t at = text.find(k_placeholder); at != std::string::npos;
       at = text.find(k_placeholder, at + name.size()))
    text.replace(at, k_placeholder.size(), name);
  return text;
}

// A module name that is also a C identifier (the template's functions are NAME_read, ...).
bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= k_max_name && name[0] >= 'a' && name[0] <= 'z' &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
         });
}

} // namespace

fs::path module_template_dir() {
  return templates_dir() / "module";
}

std::vector<fs::path> module_template_files() {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(module_template_dir(), ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec))
      files.push_back(it->path().lexically_relative(module_template_dir()));
  std::sort(files.begin(), files.end());
  return files;
}

int command_new(const GlobalOptions&, const NewOptions& options) {
  const std::string& name = options.name;
  if (!valid_name(name))
    throw FatalError(bad_input(fmt::format(
        "new: '{}' is not a module name: lower-case letters, digits and '_', starting with a "
        "letter, at most {} characters",
        name, k_max_name)));
  fs::path dir = options.dir.empty() ? fs::path(name) : fs::path(options.dir);
  auto templates = module_template_files();
  if (templates.empty())
    throw FatalError(
        environment_error(fmt::format("new: no templates in {} (is labctl installed completely?)",
                                      module_template_dir().string())));

  // Nothing is written unless every file is new.
  std::vector<std::pair<fs::path, std::string>> files;
  for (const auto& t : templates) {
    fs::path target = dir / substitute(t.string(), name);
    std::error_code ec;
    if (fs::symlink_status(target, ec).type() != fs::file_type::not_found)
      throw FatalError(bad_input(fmt::format(
          "new: {} already exists (labctl new never overwrites a file)", target.string())));
    auto text = read_file(module_template_dir() / t);
    if (!text)
      throw FatalError(environment_error(text.error()));
    files.emplace_back(target, substitute(*text, name));
  }
  for (const auto& [target, text] : files) {
    std::error_code ec;
    fs::create_directories(target.parent_path().empty() ? "." : target.parent_path(), ec);
    if (ec)
      throw FatalError(environment_error(
          fmt::format("new: cannot create {}: {}", target.parent_path().string(), ec.message())));
    if (auto st = write_new_file(target, text); !st)
      throw FatalError(st.error().error_number == EEXIST ? bad_input(st.error())
                                                         : environment_error(st.error()));
    std::puts(fmt::format("created {}", target.string()).c_str());
  }
  std::puts(fmt::format("next: labctl run {}", (dir / (name + ".json")).string()).c_str());
  return to_int(ExitCode::passed);
}

} // namespace labctl
