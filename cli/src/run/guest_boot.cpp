#include "run/guest_boot.h"

#include "lab/data_dir.h"
#include "lab/module_build.h"
#include "lab/module_deps.h"
#include "lab/qemu_command.h"
#include "util/fs.h"

#include <fmt/format.h>

namespace labctl {

Result<PreparedGuest> prepare_guest(const LabSetup& lab, const GuestRequest& request,
                                    const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& what) {
    if (progress)
      progress(what);
  };
  std::error_code ec;
  fs::create_directories(request.artifacts, ec);
  if (ec)
    return environment_error(fmt::format("cannot create artifacts directory {}: {}",
                                         request.artifacts.string(), ec.message()));
  PreparedGuest guest;
  say("building modules");
  // Each folder links against the Module.symvers of the folders before it (a bus module,
  // then its drivers), in the scenario's order.
  std::vector<fs::path> symbols;
  for (const auto& module : request.modules) {
    auto built = build_module({module.dir, lab.kernel, lab.cache, {}, symbols});
    if (!built)
      return built.error();
    if (!built->symvers.empty())
      symbols.push_back(built->symvers);
    for (const auto& ko : built->ko_files)
      guest.modules.push_back({ko.stem().string(), ko, module.params});
  }

  say("packing initrd");
  GuestImageSpec spec;
  spec.busybox = lab.profile.busybox;
  spec.applets = lab.busybox_applets;
  spec.initrd_dir = initrd_dir();
  spec.modules = guest.modules;
  spec.files = request.files;
  spec.compression = lab.profile.initrd_compression;
  spec.memory = lab.profile.memory; // an initrd the guest cannot unpack is refused
  if (!lab.profile.load_kernel_modules.empty()) {
    if (lab.kernel.modules_dir.empty())
      return environment_error(fmt::format(
          "{}: kernel_modules needs the kernel's modules directory (kernel.modules)",
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
  std::string listing;
  for (const auto& line : image->listing)
    listing += line + "\n";
  if (auto s = write_file_atomic(request.artifacts / "initrd.txt", listing); !s)
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
  l.debugcon_file = request.artifacts / "debugcon.txt";
  l.gdb = request.gdb;
  l.gdb_wait = false; // the guest is halted after module load, not before boot
  l.trace = request.trace;
  if (!l.trace.empty())
    l.trace_file = request.artifacts / "trace.log";
  l.extra = lab.profile.qemu_args;
  config.console_log = request.artifacts / "console.log";
  fs::remove(l.debugcon_file, ec);
  return guest;
}

} // namespace labctl
