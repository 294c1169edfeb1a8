#include "image/module_deps.h"

#include "host/vmlinux_extractor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace labctl {

namespace {

// No in-tree module comes close; the cap only stops a corrupt file from eating memory.
constexpr size_t k_max_module_size = size_t{256} << 20;

std::string_view strip_module_suffix(std::string_view name) {
  for (std::string_view suffix : {".ko.xz", ".ko.zst", ".ko.gz", ".ko"})
    if (name.ends_with(suffix))
      return name.substr(0, name.size() - suffix.size());
  return name;
}

std::string normalized(std::string_view name) {
  std::string out(strip_module_suffix(name));
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = text.find_first_not_of(" \t\r\n", pos);
    if (start == std::string_view::npos)
      break;
    size_t end = text.find_first_of(" \t\r\n", start);
    if (end == std::string_view::npos)
      end = text.size();
    words.push_back(text.substr(start, end - start));
    pos = end;
  }
  return words;
}

// modules.dep: "path: dep dep …", one module per line, every module listed.
struct DepFile {
  std::unordered_map<std::string, std::vector<std::string>> deps_by_path;
  std::unordered_map<std::string, std::string> path_by_name;
};

Result<DepFile> parse_modules_dep(const fs::path& file) {
  auto text = read_file(file);
  if (!text)
    return environment_error(
        fmt::format("cannot read the module list: {} (is the kernel's modules package installed?)",
                    text.error().message));
  DepFile dep;
  std::string_view rest = *text;
  for (size_t line_no = 1; !rest.empty(); ++line_no) {
    size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos || line.front() == '#')
      continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return environment_error(
          fmt::format("{}:{}: expected \"path: dependencies\"", file.string(), line_no));
    std::string path(line.substr(0, colon));
    std::vector<std::string> deps;
    for (auto word : split_words(line.substr(colon + 1)))
      deps.emplace_back(word);
    dep.path_by_name.emplace(module_name(path), path);
    dep.deps_by_path[path] = std::move(deps);
  }
  return dep;
}

// Names of the modules compiled into the kernel; empty when modules.builtin is absent.
std::unordered_set<std::string> read_builtin(const fs::path& file) {
  std::unordered_set<std::string> names;
  std::error_code ec;
  if (!fs::exists(file, ec))
    return names;
  auto text = read_file(file);
  if (!text) {
    spdlog::debug("ignoring {}", text.error().message);
    return names;
  }
  for (auto path : split_words(*text))
    names.insert(module_name(path));
  return names;
}

} // namespace

std::string module_name(std::string_view path) {
  size_t slash = path.rfind('/');
  return normalized(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

Result<std::vector<std::string>> resolve_module_deps(const fs::path& modules_dir,
                                                     const std::vector<std::string>& names) {
  fs::path dep_path = modules_dir / "modules.dep";
  auto dep = parse_modules_dep(dep_path);
  if (!dep)
    return dep.error();
  std::unordered_set<std::string> builtin;
  bool builtin_read = false;

  std::vector<std::string> order;
  enum class Mark { visiting, done };
  std::unordered_map<std::string, Mark> marks;
  std::vector<std::string> chain;
  // Depth-first, dependencies before dependents. Deps are visited in reverse of their
  // modules.dep order, which is the order modprobe loads them in.
  std::function<Status(const std::string&)> visit = [&](const std::string& path) -> Status {
    if (auto it = marks.find(path); it != marks.end()) {
      if (it->second == Mark::done)
        return ok_status();
      std::string cycle;
      for (auto pos = std::find(chain.begin(), chain.end(), path); pos != chain.end(); ++pos)
        cycle += module_name(*pos) + " -> ";
      return environment_error(
          fmt::format("{}: dependency cycle {}{}", dep_path.string(), cycle, module_name(path)));
    }
    auto deps = dep->deps_by_path.find(path);
    if (deps == dep->deps_by_path.end())
      return environment_error(fmt::format("{}: {} needs {}, which has no entry", dep_path.string(),
                                           chain.back(), path));
    marks[path] = Mark::visiting;
    chain.push_back(path);
    for (auto d = deps->second.rbegin(); d != deps->second.rend(); ++d)
      if (auto ok = visit(*d); !ok)
        return ok;
    chain.pop_back();
    marks[path] = Mark::done;
    order.push_back(path);
    return ok_status();
  };

  for (const auto& requested : names) {
    std::string name = normalized(requested);
    if (name.empty() || name.find('/') != std::string::npos)
      return bad_input(fmt::format("invalid module name \"{}\"", requested));
    auto found = dep->path_by_name.find(name);
    if (found == dep->path_by_name.end()) {
      if (!builtin_read) {
        builtin = read_builtin(modules_dir / "modules.builtin");
        builtin_read = true;
      }
      if (builtin.contains(name)) {
        spdlog::debug("module {} is built into the kernel: nothing to load", requested);
        continue;
      }
      return bad_input(fmt::format("unknown module \"{}\": not in {} nor built into the kernel",
                                   requested, dep_path.string()));
    }
    if (auto ok = visit(found->second); !ok)
      return ok.error();
  }
  return order;
}

Result<std::string> load_module_file(const fs::path& path) {
  Result<std::string> data = read_file(path);
  if (!data)
    return bad_input(data.error().message);
  Compression compression = detect_compression(*data);
  if (compression != Compression::none) {
    auto plain = decompress(*data, compression, k_max_module_size);
    if (!plain)
      return bad_input(fmt::format("{}: {}", path.string(), plain.error().message));
    spdlog::debug("module {}: {} bytes {} → {} bytes", path.string(), data->size(),
                  compression_name(compression), plain->size());
    data = std::move(plain);
  }
  if (data->substr(0, 4) != "\x7f"
                            "ELF")
    return bad_input(fmt::format("{} is not a kernel module (no ELF header)", path.string()));
  return data;
}

} // namespace labctl
