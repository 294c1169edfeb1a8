#include "run/guest_boot.h"

#include "build/module_build.h"
#include "config/data_dir.h"
#include "image/module_deps.h"
#include "util/fs.h"
#include "vm/qemu_command.h"

#include <fmt/format.h>

#include <algorithm>

namespace labctl {

Result<AssembledGuest> assemble_guest(const LabSetup& lab,
                                      const std::vector<ScenarioModule>& modules,
                                      const std::map<std::string, fs::path>& files,
                                      const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& what) {
    if (progress)
      progress(what);
  };
  AssembledGuest guest;
  say("building modules");
  // Each folder links against the Module.symvers of the folders before it (a bus module,
  // then its drivers), in the scenario's order.
  std::vector<fs::path> symbols;
  std::map<std::string, fs::path> folder_of; // module name -> the folder that built it
  for (const auto& module : modules) {
    auto built = build_module({module.dir, lab.kernel, lab.cache, {}, symbols});
    if (!built)
      return built.error();
    if (built->excluded) // the runner skips such a scenario before it gets here
      return failure(fmt::format("module {} is excluded for {}: {}", module.dir.string(),
                                 lab.kernel.version, *built->excluded));
    if (!built->symvers.empty())
      symbols.push_back(built->symvers);
    if (!built->warnings.empty())
      guest.warnings.emplace_back(module.dir, built->warnings);
    for (const auto& ko : built->ko_files) {
      // One name is one file in /lib/modules/<release>/extra: the second would replace the
      // first, and insmod would load it twice ("File exists").
      auto [it, added] = folder_of.emplace(module_name(ko.filename().string()), module.dir);
      if (!added)
        return bad_input(fmt::format(
            "module folders {} and {} both build a module named '{}'; the guest can hold only "
            "one (rename one in its Kbuild)",
            it->second.string(), module.dir.string(), ko.stem().string()));
    }
    auto files = guest_modules_of(module, built->ko_files);
    if (!files)
      return files.error();
    guest.modules.insert(guest.modules.end(), files->begin(), files->end());
  }

  // What each .ko depends on (modpost's `depends`): init loads the modules after the
  // scenario modules they need, and the kernel's own modules they need come along.
  std::vector<ModuleDepends> built;
  for (const auto& m : guest.modules) {
    auto elf = load_module_file(m.ko);
    if (!elf)
      return elf.error();
    auto depends = module_depends(*elf, m.ko.string());
    if (!depends)
      return depends.error();
    auto softdeps = module_softdeps(*elf, m.ko.string());
    if (!softdeps)
      return softdeps.error();
    std::string name = module_name(m.ko.filename().string());
    built.push_back(
        {name, m.ko, folder_of.at(name), m.load, std::move(*depends), std::move(*softdeps)});
  }
  auto order = dependency_order(built);
  if (!order)
    return order.error();
  std::vector<GuestModuleFile> ordered;
  for (size_t i : *order)
    ordered.push_back(guest.modules[i]);
  guest.modules = std::move(ordered);
  guest.module_folders = folder_of;

  say("packing initrd");
  GuestImageSpec spec;
  spec.busybox = lab.profile.busybox;
  spec.applets = lab.busybox_applets;
  spec.initrd_dir = initrd_dir();
  spec.modules = guest.modules;
  spec.release = lab.kernel.version;
  spec.files = files;
  spec.compression = lab.profile.initrd_compression;
  spec.memory = lab.profile.memory; // an initrd the guest cannot unpack is refused
  auto needs_kernel = std::find_if(built.begin(), built.end(), [&](const ModuleDepends& m) {
    return std::any_of(m.depends.begin(), m.depends.end(),
                       [&](const std::string& d) { return !folder_of.contains(d); });
  });
  // Soft dependencies are wishes, not needs: without a modules directory they are left out.
  bool wants_kernel = !lab.kernel.modules_dir.empty() &&
                      std::any_of(built.begin(), built.end(),
                                  [](const ModuleDepends& m) { return !m.softdeps.empty(); });
  if (!lab.profile.load_kernel_modules.empty() || needs_kernel != built.end() || wants_kernel) {
    if (lab.kernel.modules_dir.empty()) {
      if (lab.profile.load_kernel_modules.empty() && needs_kernel != built.end())
        return environment_error(
            fmt::format("module {} (folder {}) depends on kernel modules, and {} names no modules "
                        "directory for kernel {} (kernel.modules) to find them in",
                        needs_kernel->ko.filename().string(), needs_kernel->folder.string(),
                        lab.profile.file.string(), lab.kernel.version));
      return environment_error(
          fmt::format("{}: kernel_modules needs the kernel's modules directory (kernel.modules)",
                      lab.profile.file.string()));
    }
    auto index = KernelModuleIndex::load(lab.kernel.modules_dir);
    if (!index)
      return index.error();
    auto kernel_modules =
        kernel_modules_for(*index, lab.profile.load_kernel_modules, built, lab.kernel.version);
    if (!kernel_modules)
      return kernel_modules.error();
    for (const auto& m : *kernel_modules)
      if (m.boot && m.optional)
        guest.optional_modules.insert(module_name(m.path));
    spec.kernel_modules = std::move(*kernel_modules);
    spec.kernel_modules_dir = lab.kernel.modules_dir;
  }
  auto image = build_guest_image(spec, lab.cache);
  if (!image)
    return image.error();
  guest.image = std::move(*image);
  return guest;
}

Result<PreparedGuest> prepare_guest(const LabSetup& lab, const GuestRequest& request,
                                    const std::function<void(const std::string&)>& progress) {
  auto assembled = assemble_guest(lab, request.modules, request.files, progress);
  if (!assembled)
    return assembled.error();
  const GuestImage* image = &assembled->image;
  PreparedGuest guest;
  guest.modules = assembled->modules;
  guest.module_folders = assembled->module_folders;
  guest.warnings = assembled->warnings;
  guest.config.optional_modules = assembled->optional_modules;
  std::string listing;
  for (const auto& line : image->listing)
    listing += line + "\n";
  const ArtifactFolder& artifacts = request.artifacts;
  if (auto s = artifacts.write(Artifact::initrd_listing, listing); !s)
    return s.error();

  GuestSession::Config& config = guest.config;
  config.boot_nonce = make_nonce();
  QemuLaunch& l = config.launch;
  l.qemu = lab.profile.qemu;
  l.kernel = lab.boot_image;
  l.initrd = image->path;
  l.append = kernel_cmdline(lab.profile, config.boot_nonce, request.gdb);
  l.accel = lab.accel.accel;
  l.machine = lab.profile.machine;
  l.memory = lab.profile.memory;
  l.cpus = lab.profile.cpus;
  l.cpu = lab.profile.cpu;
  l.debugcon_file = artifacts.path(Artifact::debugcon);
  l.gdb = request.gdb;
  l.gdb_wait = false; // the guest is halted after module load, not before boot
  l.trace = request.trace;
  if (!l.trace.empty())
    l.trace_file = artifacts.path(Artifact::trace_log);
  l.extra = lab.profile.qemu_args;
  config.artifacts = artifacts;
  artifacts.clear_for_qemu(Artifact::debugcon);
  artifacts.clear_for_qemu(Artifact::trace_log);
  return guest;
}

} // namespace labctl
