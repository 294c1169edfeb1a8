#include "config/profile.h"

#include "image/guest_image.h"
#include "util/fs.h"
#include "util/json_document.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <string_view>

namespace labctl {

namespace {

std::filesystem::path relative_to(const std::filesystem::path& base, const std::string& p) {
  std::filesystem::path path(p);
  return path.is_absolute() ? path : base.parent_path() / path;
}

void read_kernel(JsonObjectReader& top, Profile& profile) {
  const Json* kernel = top.value("kernel");
  if (!kernel)
    return;
  if (kernel->is_string()) {
    std::string value = kernel->get<std::string>();
    profile.kernel_auto = value == "auto";
    if (!profile.kernel_auto)
      profile.kernel_version = value;
    if (value.empty())
      top.fail("kernel", "must be \"auto\", a kernel release, or an object");
    return;
  }
  if (!kernel->is_object())
    top.fail("kernel", fmt::format("expected \"auto\", a kernel release or an object, got {}",
                                   json_type_name(*kernel)));
  JsonObjectReader k(top.document(), top.pointer("kernel"));
  auto image = k.string("image");
  auto build = k.string("build");
  auto modules = k.string("modules");
  k.finish();
  if (!image)
    k.fail("image", "missing (the kernel image to boot, e.g. /boot/vmlinuz-6.1.0-56-amd64)");
  if (!build)
    k.fail("build", "missing (the kbuild tree, e.g. /lib/modules/6.1.0-56-amd64/build)");
  profile.kernel_auto = false;
  profile.kernel_image = relative_to(profile.file, *image);
  profile.kernel_build = relative_to(profile.file, *build);
  if (modules)
    profile.modules_dir = relative_to(profile.file, *modules);
}

void read_kernels(JsonObjectReader& top, Profile& profile) {
  const Json* kernels = top.value("kernels");
  if (!kernels)
    return;
  if (top.value("kernel"))
    top.fail("kernels", "give either \"kernel\" (one) or \"kernels\" (several), not both");
  if (kernels->is_string() && kernels->get<std::string>() == "all") {
    profile.kernels = {"all"};
    return;
  }
  if (!kernels->is_array() || kernels->empty() ||
      !std::all_of(kernels->begin(), kernels->end(),
                   [](const Json& k) { return k.is_string() && !k.get<std::string>().empty(); }))
    top.fail("kernels", "expected \"all\" or a non-empty array of kernel releases (\"auto\" "
                        "for the newest)");
  profile.kernels = kernels->get<std::vector<std::string>>();
  if (std::find(profile.kernels.begin(), profile.kernels.end(), "all") != profile.kernels.end())
    top.fail("kernels", "\"all\" stands alone, not in a list");
}

void check_choice(JsonObjectReader& r, const std::string& key, const std::string& value,
                  std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (value == a)
      return;
  std::string list;
  for (const char* a : allowed)
    list += (list.empty() ? "" : ", ") + std::string(a);
  r.fail(key, fmt::format("'{}' is not one of: {}", value, list));
}

} // namespace

std::string qemu_listener_option(const std::vector<std::string>& args) {
  // QEMU takes --opt as -opt.
  constexpr std::string_view k_listening_options[] = {
      "-gdb", "-s", "-monitor", "-qmp", "-qmp-pretty", "-mon", "-vnc", "-spice", "-incoming"};
  // Backends and parameters that open a socket others can connect to.
  constexpr std::string_view k_listening_words[] = {
      "server", "listen",  "tcp:",     "telnet:", "websocket", "udp",
      "dgram",  "hostfwd", "guestfwd", "vnc",     "spice"};
  for (const auto& arg : args) {
    std::string_view option = arg;
    if (option.substr(0, 2) == "--")
      option.remove_prefix(1);
    for (auto listening : k_listening_options)
      if (option == listening)
        return fmt::format("\"{}\" opens a monitor, debugger or display port", arg);
    for (auto word : k_listening_words)
      if (arg.find(word) != std::string::npos)
        return fmt::format("\"{}\" would listen for connections (\"{}\")", arg, word);
  }
  return "";
}

Result<ProfileLocation> find_profile(const std::string& name_or_file,
                                     const std::vector<ProfileDir>& dirs) {
  if (name_or_file.find('/') != std::string::npos || name_or_file.ends_with(".json"))
    return ProfileLocation{name_or_file, "file"};
  std::vector<std::string> tried;
  for (const auto& d : dirs) {
    std::filesystem::path file = d.dir / (name_or_file + ".json");
    std::error_code ec;
    if (std::filesystem::is_regular_file(file, ec))
      return ProfileLocation{file, d.origin};
    tried.push_back(file.string());
  }
  return bad_input(
      fmt::format("profile '{}': not found (looked for {})", name_or_file, fmt::join(tried, ", ")));
}

std::vector<ProfileLocation> list_profiles(const std::vector<ProfileDir>& dirs) {
  std::map<std::string, ProfileLocation> found;
  for (const auto& d : dirs) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(d.dir, ec)) {
      const auto& file = entry.path();
      if (file.extension() == ".json" && entry.is_regular_file(ec))
        found.try_emplace(file.stem().string(), ProfileLocation{file, d.origin});
    }
  }
  std::vector<ProfileLocation> out;
  for (auto& [name, location] : found)
    out.push_back(std::move(location));
  return out;
}

Result<Profile> load_profile(const std::filesystem::path& file) {
  auto text = read_file(file);
  if (!text)
    return text.error().error_number == ENOENT
               ? bad_input(fmt::format("profile {}: file not found", file.string()))
               : bad_input(text.error());
  return parse_profile(*text, file);
}

Result<Profile> parse_profile(const std::string& text, const std::filesystem::path& file) {
  auto doc = JsonDocument::parse(text, file.string());
  if (!doc)
    return bad_input(doc.error());
  Profile p;
  p.file = file;
  p.name = file.stem().string();
  try {
    JsonObjectReader r(*doc, JsonPointer());
    read_kernel(r, p);
    read_kernels(r, p);
    if (auto v = r.string("accel")) {
      p.accel = *v;
      check_choice(r, "accel", p.accel, {"auto", "kvm", "tcg"});
    }
    if (auto v = r.string("memory")) {
      if (!is_memory_size(*v))
        r.fail("memory", fmt::format("'{}' is not a size like 256M or 1G", *v));
      p.memory = *v;
    }
    if (auto v = r.string("machine"))
      p.machine = *v;
    if (auto v = r.string("cpu"))
      p.cpu = *v;
    if (auto v = r.integer("cpus")) {
      if (*v < 1 || *v > 64)
        r.fail("cpus", "must be between 1 and 64");
      p.cpus = static_cast<int>(*v);
    }
    if (auto v = r.string("cmdline"))
      p.cmdline = *v;
    if (auto v = r.string("qemu"))
      p.qemu = *v;
    if (const Json* args = r.value("qemu_args")) {
      if (!args->is_array() ||
          !std::all_of(args->begin(), args->end(), [](const Json& a) { return a.is_string(); }))
        r.fail("qemu_args", "expected an array of strings");
      p.qemu_args = args->get<std::vector<std::string>>();
      if (auto listener = qemu_listener_option(p.qemu_args); !listener.empty())
        r.fail("qemu_args", listener + ": QEMU runs as root, so labctl lets it listen on nothing "
                                       "but its private unix sockets");
    }
    if (auto v = r.string("busybox"))
      p.busybox = *v;
    if (auto v = r.string("initrd_compression")) {
      check_choice(r, "initrd_compression", *v, {"gzip", "none", "zstd"});
      p.initrd_compression = *v;
    }
    if (auto v = r.string("boot")) {
      check_choice(r, "boot", *v, {"auto", "bzimage"});
      p.boot = *v;
    }
    if (auto v = r.integer("boot_timeout")) {
      if (*v < 1)
        r.fail("boot_timeout", "must be a positive number of seconds");
      p.boot_timeout = static_cast<int>(*v);
    }
    if (const Json* mods = r.value("kernel_modules")) {
      if (!mods->is_array() ||
          !std::all_of(mods->begin(), mods->end(), [](const Json& m) { return m.is_string(); }))
        r.fail("kernel_modules", "expected an array of module names");
      p.load_kernel_modules = mods->get<std::vector<std::string>>();
    }
    if (auto v = r.string("debug_vmlinux")) {
      p.debug_vmlinux = *v;
      if (*v != "auto" && *v != "none") {
        p.debug_vmlinux = relative_to(p.file, *v).string();
        std::error_code ec;
        if (!fs::is_regular_file(p.debug_vmlinux, ec))
          r.fail("debug_vmlinux", fmt::format("{} is not a file (expected \"auto\", \"none\" "
                                              "or a vmlinux with debug info)",
                                              p.debug_vmlinux));
      }
    }
    r.string("description"); // free text for people
    r.finish();
  } catch (const JsonInvalid& e) {
    return bad_input(e.what());
  }
  return p;
}

std::filesystem::path debug_vmlinux_for(const Profile& profile, const std::string& release,
                                        const std::filesystem::path& root) {
  if (profile.debug_vmlinux == "none")
    return {};
  if (profile.debug_vmlinux != "auto")
    return profile.debug_vmlinux;
  std::filesystem::path debian = debian_debug_vmlinux(release, root);
  std::error_code ec;
  return std::filesystem::is_regular_file(debian, ec) ? debian : std::filesystem::path();
}

Result<Kernel> resolve_kernel(const Profile& profile, const KernelRoots& roots) {
  if (!profile.kernels.empty()) {
    if (profile.kernels.size() != 1 || profile.kernels.front() == "all")
      return bad_input(fmt::format("{}: this command uses one kernel, not several (\"kernels\" "
                                   "or --kernel names {})",
                                   profile.file.string(), fmt::join(profile.kernels, ",")));
    const std::string& release = profile.kernels.front();
    return release == "auto" ? find_newest_kernel(roots) : kernel_for_version(release, roots);
  }
  if (profile.kernel_auto)
    return find_newest_kernel(roots);
  if (!profile.kernel_version.empty())
    return kernel_for_version(profile.kernel_version, roots);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(profile.kernel_image, ec))
    return environment_error(fmt::format("{}: kernel image {} not found", profile.file.string(),
                                         profile.kernel_image.string()));
  if (!std::filesystem::is_directory(profile.kernel_build, ec))
    return environment_error(fmt::format("{}: kernel build dir {} not found (install the headers)",
                                         profile.file.string(), profile.kernel_build.string()));
  Kernel k;
  k.image = profile.kernel_image;
  k.build_dir = profile.kernel_build;
  k.modules_dir = profile.modules_dir;
  // The release is what kbuild stamps into vermagic; read it from the build tree.
  if (auto release = std::filesystem::path(k.build_dir) / "include/config/kernel.release";
      std::filesystem::exists(release, ec)) {
    std::ifstream in(release);
    std::getline(in, k.version);
  }
  return k;
}

Result<std::vector<Kernel>> resolve_kernels(const Profile& profile, const KernelRoots& roots) {
  std::vector<Kernel> out;
  if (profile.kernels.empty()) {
    auto k = resolve_kernel(profile, roots);
    if (!k)
      return k.error();
    out.push_back(*k);
    return out;
  }
  if (profile.kernels == std::vector<std::string>{"all"}) {
    out = find_kernels(roots);
    if (out.empty()) {
      auto none = find_newest_kernel(roots); // says what was found and what to install
      return none ? environment_error("no kernel with headers found") : none.error();
    }
    return out;
  }
  for (const auto& release : profile.kernels) {
    auto k = release == "auto" ? find_newest_kernel(roots) : kernel_for_version(release, roots);
    if (!k)
      return k.error();
    if (std::none_of(out.begin(), out.end(),
                     [&](const Kernel& have) { return have.version == k->version; }))
      out.push_back(*k);
  }
  return out;
}

} // namespace labctl
