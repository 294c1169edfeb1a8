#include "image/guest_image.h"

#include "image/init_script.h"
#include "image/module_deps.h"
#include "util/content_hash.h"
#include "util/fs.h"
#include "util/process.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace labctl {

namespace {

Result<InitrdCompression> compression_of(const std::string& name) {
  if (name == "gzip")
    return InitrdCompression::gzip;
  if (name == "none")
    return InitrdCompression::none;
  if (name == "zstd")
    return InitrdCompression::zstd;
  return bad_input(fmt::format("unknown initrd compression '{}'", name));
}

// What the .sum file beside a cached initrd holds: its size and content hash.
std::string initrd_sum(std::string_view packed) {
  return fmt::format("{} {}\n", packed.size(), hash_hex(packed));
}

// A cache entry is used only when its bytes are still those that were packed: a truncated
// or altered file (a full disk, a crash, a stray edit) is packed again.
bool cached_initrd_intact(const fs::path& initrd, const fs::path& sum) {
  std::error_code ec;
  if (!fs::exists(initrd, ec))
    return false;
  auto expected = read_file(sum);
  auto bytes = read_file(initrd);
  if (expected && bytes && *expected == initrd_sum(*bytes))
    return true;
  spdlog::debug("cached initrd {} does not match {}; packing it again", initrd.string(),
                sum.string());
  return false;
}

bool is_at_or_below(std::string_view guest, const ReservedGuestPath& reserved) {
  if (guest == reserved.path)
    return true;
  return reserved.below && guest.size() > reserved.path.size() &&
         guest.starts_with(reserved.path) && guest[reserved.path.size()] == '/';
}

// The modules.* files `depmod -b <staging> <release>` makes for the scenario's `modules`
// installed under extra/ and the kernel's own modules (`kernel_bytes`, decompressed, one per
// spec.kernel_modules) under their modules.dep paths: file name -> content, so that the
// guest's modprobe and modinfo find them all.
Result<std::map<std::string, std::string>>
depmod_files(const GuestImageSpec& spec, const std::string& release,
             const std::vector<std::string>& kernel_bytes) {
  std::map<std::string, std::string> made;
  if (spec.modules.empty() && spec.kernel_modules.empty())
    return made;
  TempDir staging("labctl-depmod");
  fs::path tree = staging.path() / "lib/modules" / release;
  std::error_code ec;
  fs::create_directories(tree / "extra", ec);
  if (ec)
    return environment_error(
        fmt::format("cannot create {}: {}", (tree / "extra").string(), ec.message()));
  for (const auto& m : spec.modules) {
    fs::copy_file(m.ko, tree / "extra" / (m.name + ".ko"), ec);
    if (ec)
      return environment_error(
          fmt::format("cannot copy {} for depmod: {}", m.ko.string(), ec.message()));
  }
  for (size_t i = 0; i < spec.kernel_modules.size(); ++i) {
    fs::path to =
        staging.path() / guest_kernel_module_path(release, spec.kernel_modules[i].path).substr(1);
    fs::create_directories(to.parent_path(), ec);
    if (ec)
      return environment_error(
          fmt::format("cannot create {}: {}", to.parent_path().string(), ec.message()));
    if (auto s = write_file_atomic(to, kernel_bytes[i]); !s)
      return environment_error(s.error().message);
  }
  fs::path depmod = spec.depmod;
  if (!depmod.has_parent_path()) {
    // sudo's PATH may lack /sbin, where Debian's kmod puts depmod.
    depmod = find_program(spec.depmod.string());
    for (const char* dir : {"/usr/sbin", "/sbin"})
      if (depmod.empty() && fs::exists(fs::path(dir) / spec.depmod, ec))
        depmod = fs::path(dir) / spec.depmod;
    if (depmod.empty())
      return environment_error(fmt::format(
          "{} not found (it makes the guest's modules.dep; install it: apt-get install kmod)",
          spec.depmod.string()));
  }
  auto ran = run_capture({.argv = {depmod.string(), "-b", staging.path().string(), release},
                          .merge_stderr = true,
                          .die_with_parent = true},
                         std::chrono::minutes(1));
  if (!ran && ran.error().error_number == EINTR)
    return ran.error();
  if (!ran)
    return environment_error(fmt::format("{} (depmod makes the guest's modules.dep; install it: "
                                         "apt-get install kmod)",
                                         ran.error().message));
  if (ran->interrupted)
    return Error{ExitCode::interrupted, "interrupted while depmod made the guest's modules.dep"};
  if (!ran->status.success())
    return environment_error(fmt::format("depmod -b {} {} {}: {}", staging.path().string(), release,
                                         ran->status.describe(), ran->out));
  for (const auto& entry : fs::directory_iterator(tree, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with("modules.") || !entry.is_regular_file())
      continue;
    auto bytes = read_file(entry.path());
    if (!bytes)
      return environment_error(bytes.error().message);
    made.emplace(name, std::move(*bytes));
  }
  if (ec)
    return environment_error(fmt::format("cannot list {}: {}", tree.string(), ec.message()));
  if (!made.contains("modules.dep"))
    return environment_error(fmt::format("depmod made no modules.dep in {}", tree.string()));
  return made;
}

} // namespace

std::string guest_kernel_module_path(const std::string& release, const std::string& path) {
  std::string_view p = path;
  for (std::string_view suffix : {".xz", ".zst", ".gz"})
    if (p.ends_with(std::string(".ko") + std::string(suffix)))
      p.remove_suffix(suffix.size());
  return fmt::format("/lib/modules/{}/{}", release, p);
}

std::string guest_module_path(const std::string& release, const std::string& name) {
  return fmt::format("/lib/modules/{}/extra/{}.ko", release, name);
}

// "256", "256M", "1G": digits and an optional K, M or G, as QEMU's -m takes them.
// (std::regex would recurse once per digit and overflow the stack on a long string.)
bool is_memory_size(std::string_view v) {
  if (!v.empty() && (v.back() == 'K' || v.back() == 'M' || v.back() == 'G'))
    v.remove_suffix(1);
  return !v.empty() && v.size() <= 12 &&
         v.find_first_not_of("0123456789") == std::string_view::npos;
}

uint64_t memory_size_bytes(std::string_view memory) {
  if (!is_memory_size(memory))
    return 0;
  int shift = 20; // QEMU: a bare number is MiB
  if (memory.back() == 'K' || memory.back() == 'M' || memory.back() == 'G') {
    shift = memory.back() == 'K' ? 10 : memory.back() == 'M' ? 20 : 30;
    memory.remove_suffix(1);
  }
  uint64_t n = std::stoull(std::string(memory)); // at most 12 digits: no overflow here
  return n > (UINT64_MAX >> shift) ? UINT64_MAX : n << shift;
}

std::string initrd_fits_problem(uint64_t unpacked_bytes, const std::string& memory,
                                const std::string& largest) {
  uint64_t ram = memory_size_bytes(memory);
  if (ram == 0)
    return {};
  uint64_t room = ram / 2 > k_initrd_memory_margin ? ram / 2 - k_initrd_memory_margin : 0;
  if (unpacked_bytes <= room)
    return {};
  auto mib = [](uint64_t bytes) { return (bytes + (1 << 20) - 1) >> 20; };
  return fmt::format("the initrd would unpack to {} MiB (the largest part: {}), more than a "
                     "guest with the profile's memory \"{}\" can hold: {} MiB (half the "
                     "memory, less {} MiB; the kernel unpacks the initrd into a tmpfs of half "
                     "its RAM). Raise the profile's memory or make the files smaller",
                     mib(unpacked_bytes), largest, memory, room >> 20,
                     k_initrd_memory_margin >> 20);
}

std::string scenario_file_path_problem(const std::string& guest) {
  // The initrd writer owns the rules for a valid path; ask it rather than repeat them.
  InitrdWriter probe;
  if (auto s = probe.add_file(guest, ""); !s)
    return s.error().message;
  for (const auto& reserved : k_reserved_guest_paths)
    if (is_at_or_below(guest, reserved))
      return fmt::format("guest path '{}' is reserved ({})", guest, reserved.why);
  return {};
}

Result<GuestImage> build_guest_image(const GuestImageSpec& spec, const fs::path& cache_dir) {
  auto init_template = read_file(spec.initrd_dir / "init.sh");
  if (!init_template)
    return environment_error(init_template.error().message);
  auto agent = read_file(spec.initrd_dir / "agent.sh");
  if (!agent)
    return environment_error(agent.error().message);
  auto compression = compression_of(spec.compression);
  if (!compression)
    return compression.error();

  const std::string release = spec.release.empty() ? "unknown" : spec.release;
  std::vector<GuestModule> guest_modules;
  for (const auto& m : spec.kernel_modules)
    if (m.boot)
      guest_modules.push_back({module_name(m.path), guest_kernel_module_path(release, m.path), ""});
  for (const auto& m : spec.modules)
    if (m.load)
      guest_modules.push_back({m.name, guest_module_path(release, m.name), m.params});
  auto init = render_init_script(*init_template, guest_modules);
  if (!init)
    return init.error();

  // Refuse an initrd the guest cannot unpack before reading a byte of it: the kernel would
  // only say "Initramfs unpacking failed" early on, then "VFS: Unable to mount root fs".
  if (!spec.memory.empty()) {
    uint64_t total = 0, largest_size = 0;
    std::string largest;
    std::error_code ec;
    auto count = [&](const fs::path& host, const std::string& what) {
      auto size = fs::file_size(host, ec); // the apparent size: a sparse file counts whole
      if (ec)
        return; // not readable: the add below says so
      total += size;
      if (size >= largest_size) {
        largest_size = size;
        largest = fmt::format("{}, {} MiB", what, (size + (1 << 20) - 1) >> 20);
      }
    };
    count(spec.busybox, "busybox " + spec.busybox.string());
    for (const auto& m : spec.modules)
      count(m.ko, "module " + m.ko.string());
    for (const auto& m : spec.kernel_modules)
      count(spec.kernel_modules_dir / m.path, "kernel module " + m.path);
    for (const auto& [guest, host] : spec.files)
      count(host, fmt::format("files entry '{}'", guest));
    if (std::string problem = initrd_fits_problem(total, spec.memory, largest); !problem.empty())
      return bad_input(problem);
  }

  // The kernel's own modules may be compressed (.ko.xz); busybox insmod wants plain .ko.
  std::vector<std::string> kernel_bytes;
  for (const auto& m : spec.kernel_modules) {
    auto bytes = load_module_file(spec.kernel_modules_dir / m.path);
    if (!bytes)
      return bytes.error();
    kernel_bytes.push_back(std::move(*bytes));
  }
  auto depmod = depmod_files(spec, release, kernel_bytes);
  if (!depmod)
    return depmod.error();

  InitrdWriter writer;
  Status status = ok_status();
  auto check = [&status](Status s) {
    if (status && !s)
      status = std::move(s);
  };
  for (const char* dir : {"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/dev", "/proc", "/sys", "/tmp",
                          "/run", "/root", "/etc", "/lib/labctl"})
    check(writer.add_directory(dir, 0755));
  const std::string modules_dir = "/lib/modules/" + release;
  check(writer.add_directory(modules_dir + "/extra", 0755));
  check(writer.add_file_from_disk("/bin/busybox", spec.busybox, 0755));
  for (const auto& applet : spec.applets) {
    std::string guest = "/" + applet;
    if (guest != "/bin/busybox")
      check(writer.add_symlink(guest, "/bin/busybox"));
  }
  check(writer.add_file("/init", *init, 0755));
  check(writer.add_file("/lib/labctl/agent.sh", *agent, 0755));
  for (const auto& m : spec.modules)
    check(writer.add_file_from_disk(guest_module_path(release, m.name), m.ko, 0644));
  for (const auto& [name, bytes] : *depmod)
    check(writer.add_file(modules_dir + "/" + name, bytes, 0644));
  for (size_t i = 0; i < spec.kernel_modules.size(); ++i)
    check(writer.add_file(guest_kernel_module_path(release, spec.kernel_modules[i].path),
                          std::move(kernel_bytes[i]), 0644));
  // Scenario files keep their host permission bits (a script stays executable). Scenario
  // loading refused reserved paths already; this catches any other caller.
  for (const auto& [guest, host] : spec.files) {
    if (std::string problem = scenario_file_path_problem(guest); !problem.empty())
      return bad_input(problem);
    check(writer.add_file_from_disk(guest, host));
  }
  if (!status)
    return status.error();

  // The key covers every byte that goes in, so equal keys mean equal files.
  ContentHash key;
  key.add("labctl-initrd-v1").add(spec.compression);
  for (const auto& line : writer.listing())
    key.add(line);
  if (auto s = key.add_file(spec.busybox); !s)
    return s.error();
  key.add(*init).add(*agent);
  for (const auto& [name, bytes] : *depmod)
    key.add(name).add(bytes);
  for (const auto& m : spec.modules)
    if (auto s = key.add_file(m.ko); !s)
      return s.error();
  // The kernel modules' host files (compressed or not): a kernel update changes the key.
  for (const auto& m : spec.kernel_modules)
    if (auto s = key.add_file(spec.kernel_modules_dir / m.path); !s)
      return s.error();
  for (const auto& [guest, host] : spec.files)
    if (auto s = key.add_file(host); !s)
      return s.error();

  GuestImage image;
  image.listing = writer.listing();
  image.path = cache_dir / "initrd" / (key.hex() + ".cpio");
  fs::path sum = image.path.string() + ".sum";
  if (cached_initrd_intact(image.path, sum)) {
    image.cached = true;
    return image;
  }
  auto packed = writer.pack(*compression);
  if (!packed)
    return packed.error();
  if (auto s = write_file_atomic(image.path, *packed); !s)
    return s.error();
  if (auto s = write_file_atomic(sum, initrd_sum(*packed)); !s)
    return s.error();
  spdlog::debug("initrd {} ({} bytes)", image.path.string(), packed->size());
  return image;
}

} // namespace labctl
