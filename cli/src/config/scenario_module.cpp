#include "config/scenario_module.h"

#include "image/module_deps.h"

#include <fmt/format.h>

namespace labctl {

namespace fs = std::filesystem;

Result<std::vector<GuestModuleFile>> guest_modules_of(const ScenarioModule& module,
                                                      const std::vector<fs::path>& ko_files) {
  std::vector<GuestModuleFile> files;
  std::string names;
  for (const auto& ko : ko_files) {
    files.push_back({ko.stem().string(), ko, "", !module.load.has_value()});
    names += (names.empty() ? "" : ", ") + ko.stem().string();
  }
  auto find = [&](const ModuleChoice& choice) -> Result<GuestModuleFile*> {
    for (auto& f : files)
      if (module_name(f.name) == module_name(choice.name))
        return &f;
    return bad_input(fmt::format("{}: {} builds no module '{}' (it builds {})", choice.where,
                                 module.dir.string(), choice.name, names.empty() ? "none" : names));
  };
  if (!module.params_per_module && !module.params.empty()) {
    if (files.size() > 1)
      return bad_input(fmt::format(
          "{}: {} builds {} modules ({}); give params per module, as an object keyed by "
          "module name: {{\"{}\": \"{}\"}}",
          module.params_where, module.dir.string(), files.size(), names, files[0].name,
          module.params));
    for (auto& f : files)
      f.params = module.params;
  }
  for (const auto& choice : module.module_params) {
    auto f = find(choice);
    if (!f)
      return f.error();
    (*f)->params = choice.params;
  }
  if (!module.load)
    return files;
  std::vector<GuestModuleFile> ordered;
  for (const auto& choice : *module.load) {
    auto f = find(choice);
    if (!f)
      return f.error();
    (*f)->load = true;
    ordered.push_back(**f);
  }
  for (const auto& f : files)
    if (!f.load)
      ordered.push_back(f);
  return ordered;
}

bool is_module_folder(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "Kbuild", ec) || fs::exists(dir / "Makefile", ec) ||
         fs::exists(dir / "dkms.conf", ec);
}

} // namespace labctl
