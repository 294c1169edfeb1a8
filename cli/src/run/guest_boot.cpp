#include "run/guest_boot.h"

#include "build/module_build.h"
#include "config/data_dir.h"
#include "image/module_deps.h"
#include "util/fs.h"
#include "vm/qemu_command.h"

#include <fmt/format.h>

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
  if (!lab.profile.load_kernel_modules.empty()) {
    if (lab.kernel.modules_dir.empty())
      return environment_error(
          fmt::format("{}: kernel_modules needs the kernel's modules directory (kernel.modules)",
                      lab.profile.file.string()));
    auto deps = resolve_module_deps(lab.kernel.modules_dir, lab.profile.load_kernel_modules);
    if (!deps)
      return deps.error();
    spec.kernel_modules = *deps;
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
  guest.warnings = assembled->warnings;
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
