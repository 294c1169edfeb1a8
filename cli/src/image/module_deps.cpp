#include "image/module_deps.h"

#include "host/vmlinux_extractor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fnmatch.h>

#include <algorithm>
#include <cstdint>
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

// modules.softdep: "softdep NAME pre: A B post: C", as depmod writes it from MODULE_SOFTDEP;
// absent or unreadable: none. The names after pre:/post: stay as written (aliases are not
// normalized).
template <typename Add> void read_softdeps(const fs::path& file, Add add) {
  std::error_code ec;
  if (!fs::exists(file, ec))
    return;
  auto text = read_file(file);
  if (!text) {
    spdlog::debug("ignoring {}", text.error().message);
    return;
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    auto words = split_words(line);
    if (words.size() < 3 || words[0] != "softdep")
      continue;
    bool pre = true, in_list = false;
    for (size_t i = 2; i < words.size(); ++i) {
      if (words[i] == "pre:" || words[i] == "post:") {
        pre = words[i] == "pre:";
        in_list = true;
      } else if (in_list) {
        add(normalized(words[1]), pre, std::string(words[i]));
      }
    }
  }
}

// "pre: a b post: c" (a .modinfo softdep= value, or the rest of a modules.softdep line):
// the names, pre and post alike.
std::vector<std::string> softdep_names(std::string_view value) {
  std::vector<std::string> names;
  bool in_list = false;
  for (auto word : split_words(value)) {
    if (word == "pre:" || word == "post:")
      in_list = true;
    else if (in_list)
      names.emplace_back(word);
  }
  return names;
}

// Little-endian fields of an ELF64 file; the caller checked that they fit.
uint64_t read_le(std::string_view bytes, size_t at, size_t size) {
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i)
    value |= uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  return value;
}

} // namespace

std::string module_name(std::string_view path) {
  size_t slash = path.rfind('/');
  return normalized(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// modules.dep: "path: dep dep …", one module per line, every module listed.
Result<KernelModuleIndex> KernelModuleIndex::load(const fs::path& modules_dir) {
  fs::path file = modules_dir / "modules.dep";
  auto text = read_file(file);
  if (!text)
    return environment_error(
        fmt::format("cannot read the module list: {} (is the kernel's modules package installed?)",
                    text.error().message));
  KernelModuleIndex index;
  index.m_dir = modules_dir;
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
    index.m_path_by_name.emplace(module_name(path), path);
    index.m_deps_by_path[path] = std::move(deps);
  }
  index.m_builtin = read_builtin(modules_dir / "modules.builtin");
  read_softdeps(modules_dir / "modules.softdep",
                [&](const std::string& module, bool pre, std::string target) {
                  auto& deps = index.m_softdeps[module];
                  (pre ? deps.pre : deps.post).push_back(std::move(target));
                });
  // Only the aliases a soft dependency may name: modules.alias has ~27000 lines, most of
  // them device ids no softdep uses.
  std::unordered_set<std::string> targets;
  for (const auto& [module, deps] : index.m_softdeps)
    for (const auto* list : {&deps.pre, &deps.post})
      for (const auto& t : *list)
        if (index.find(t) == Provider::none)
          targets.insert(t);
  if (!targets.empty()) {
    if (auto aliases = read_file(modules_dir / "modules.alias"); aliases) {
      std::string_view rest = *aliases;
      while (!rest.empty()) {
        size_t eol = rest.find('\n');
        auto words = split_words(rest.substr(0, eol));
        rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
        if (words.size() != 3 || words[0] != "alias")
          continue;
        std::string pattern(words[1]);
        if (std::any_of(targets.begin(), targets.end(), [&](const std::string& t) {
              return fnmatch(pattern.c_str(), t.c_str(), 0) == 0;
            }))
          index.m_soft_aliases.emplace_back(std::move(pattern), normalized(words[2]));
      }
    }
  }
  return index;
}

std::vector<std::string> KernelModuleIndex::soft_dependency_files(std::string_view name) const {
  std::vector<std::string> files;
  if (auto it = m_path_by_name.find(normalized(name)); it != m_path_by_name.end())
    return {it->second};
  if (m_builtin.contains(normalized(name)))
    return files;
  std::string raw(name);
  for (const auto& [pattern, module] : m_soft_aliases)
    if (fnmatch(pattern.c_str(), raw.c_str(), 0) == 0)
      if (auto it = m_path_by_name.find(module);
          it != m_path_by_name.end() &&
          std::find(files.begin(), files.end(), it->second) == files.end())
        files.push_back(it->second);
  return files;
}

KernelModuleIndex::Provider KernelModuleIndex::find(std::string_view name) const {
  std::string n = normalized(name);
  if (m_path_by_name.contains(n))
    return Provider::file;
  return m_builtin.contains(n) ? Provider::builtin : Provider::none;
}

Result<std::vector<std::string>>
KernelModuleIndex::resolve(const std::vector<std::string>& names) const {
  return walk(names, false);
}

Result<std::vector<std::string>>
KernelModuleIndex::resolve_with_softdeps(const std::vector<std::string>& names) const {
  return walk(names, true);
}

Result<std::vector<std::string>> KernelModuleIndex::walk(const std::vector<std::string>& names,
                                                         bool follow_softdeps) const {
  fs::path dep_path = m_dir / "modules.dep";
  std::vector<std::string> order;
  enum class Mark { visiting, done };
  std::unordered_map<std::string, Mark> marks;
  std::vector<std::string> chain;
  // Depth-first, dependencies before dependents. Deps are visited in reverse of their
  // modules.dep order, which is the order modprobe loads them in.
  std::function<Status(const std::string&)> visit;
  const SoftDeps no_softdeps;
  // A soft dependency that cannot load first (it needs the module that wants it, or a file
  // modules.dep lacks) is left out, as modprobe goes on without it: the walk is undone.
  auto visit_soft = [&](const std::vector<std::string>& targets) {
    for (const auto& target : targets)
      for (const auto& file : soft_dependency_files(target)) {
        if (marks.contains(file))
          continue;
        auto saved_marks = marks;
        size_t saved_order = order.size(), saved_chain = chain.size();
        if (auto ok = visit(file); !ok) {
          spdlog::debug("soft dependency {} left out: {}", file, ok.error().message);
          marks = std::move(saved_marks);
          order.resize(saved_order);
          chain.resize(saved_chain);
        }
      }
  };
  visit = [&](const std::string& path) -> Status {
    if (auto it = marks.find(path); it != marks.end()) {
      if (it->second == Mark::done)
        return ok_status();
      std::string cycle;
      for (auto pos = std::find(chain.begin(), chain.end(), path); pos != chain.end(); ++pos)
        cycle += module_name(*pos) + " -> ";
      return environment_error(
          fmt::format("{}: dependency cycle {}{}", dep_path.string(), cycle, module_name(path)));
    }
    auto deps = m_deps_by_path.find(path);
    if (deps == m_deps_by_path.end())
      return environment_error(fmt::format("{}: {} needs {}, which has no entry", dep_path.string(),
                                           chain.back(), path));
    const SoftDeps* soft = &no_softdeps;
    if (follow_softdeps)
      if (auto it = m_softdeps.find(module_name(path)); it != m_softdeps.end())
        soft = &it->second;
    marks[path] = Mark::visiting;
    chain.push_back(path);
    visit_soft(soft->pre);
    for (auto d = deps->second.rbegin(); d != deps->second.rend(); ++d)
      if (auto ok = visit(*d); !ok)
        return ok;
    chain.pop_back();
    marks[path] = Mark::done;
    order.push_back(path);
    visit_soft(soft->post);
    return ok_status();
  };

  for (const auto& requested : names) {
    std::string name = normalized(requested);
    if (name.empty() || name.find('/') != std::string::npos)
      return bad_input(fmt::format("invalid module name \"{}\"", requested));
    auto found = m_path_by_name.find(name);
    if (found == m_path_by_name.end()) {
      if (m_builtin.contains(name)) {
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

Result<std::vector<std::string>> resolve_module_deps(const fs::path& modules_dir,
                                                     const std::vector<std::string>& names) {
  auto index = KernelModuleIndex::load(modules_dir);
  if (!index)
    return index.error();
  return index->resolve(names);
}

namespace {

// The values of every `key=` entry of a module's .modinfo section, in the order written.
Result<std::vector<std::string_view>> modinfo_values(std::string_view elf, const std::string& what,
                                                     std::string_view key) {
  auto bad = [&](std::string_view why) {
    return bad_input(fmt::format("{}: cannot read its .modinfo: {}", what, why));
  };
  // e_ident: magic, ELFCLASS64 (2), ELFDATA2LSB (1); the kernels labctl boots are x86-64.
  if (elf.size() < 64 || elf.substr(0, 4) != "\x7f"
                                             "ELF")
    return bad("not an ELF file");
  if (elf[4] != 2 || elf[5] != 1)
    return bad("not a 64-bit little-endian ELF file");
  uint64_t shoff = read_le(elf, 0x28, 8);
  uint64_t shentsize = read_le(elf, 0x3a, 2);
  uint64_t shnum = read_le(elf, 0x3c, 2);
  uint64_t shstrndx = read_le(elf, 0x3e, 2);
  if (shentsize < 64 || shnum == 0 || shstrndx >= shnum || shoff > elf.size() ||
      (elf.size() - shoff) / shentsize < shnum)
    return bad("its section table does not fit the file");
  struct Section {
    uint64_t name, offset, size;
  };
  auto section = [&](uint64_t i) {
    size_t at = shoff + i * shentsize;
    return Section{read_le(elf, at, 4), read_le(elf, at + 24, 8), read_le(elf, at + 32, 8)};
  };
  auto fits = [&](const Section& s) {
    return s.offset <= elf.size() && s.size <= elf.size() - s.offset;
  };
  Section names = section(shstrndx);
  if (!fits(names))
    return bad("its section names do not fit the file");
  std::string_view name_table = elf.substr(names.offset, names.size);
  for (uint64_t i = 0; i < shnum; ++i) {
    Section s = section(i);
    if (s.name >= name_table.size())
      continue;
    std::string_view name = name_table.substr(s.name);
    name = name.substr(0, name.find('\0'));
    if (name != ".modinfo")
      continue;
    if (!fits(s))
      return bad("the .modinfo section does not fit the file");
    // "key=value\0" strings, NUL padding between them.
    std::vector<std::string_view> values;
    std::string_view info = elf.substr(s.offset, s.size);
    while (!info.empty()) {
      size_t end = info.find('\0');
      std::string_view entry = info.substr(0, end);
      info = end == std::string_view::npos ? std::string_view() : info.substr(end + 1);
      if (entry.size() > key.size() && entry.starts_with(key) && entry[key.size()] == '=')
        values.push_back(entry.substr(key.size() + 1));
    }
    return values;
  }
  return bad("it has no .modinfo section (is it a kernel module?)");
}

} // namespace

Result<std::vector<std::string>> module_depends(std::string_view elf, const std::string& what) {
  auto values = modinfo_values(elf, what, "depends");
  if (!values)
    return values.error();
  std::vector<std::string> depends;
  for (std::string_view list : *values)
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view one = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      // A name that is only a suffix (".ko.xz") is no module name: modpost never writes one.
      if (std::string name = normalized(one); !name.empty())
        depends.push_back(std::move(name));
    }
  return depends;
}

Result<std::vector<std::string>> module_softdeps(std::string_view elf, const std::string& what) {
  auto values = modinfo_values(elf, what, "softdep");
  if (!values)
    return values.error();
  std::vector<std::string> names;
  for (std::string_view value : *values)
    for (auto& name : softdep_names(value))
      names.push_back(std::move(name));
  return names;
}

Result<std::vector<size_t>> dependency_order(const std::vector<ModuleDepends>& built) {
  std::unordered_map<std::string, size_t> index_of;
  for (size_t i = 0; i < built.size(); ++i)
    index_of.emplace(built[i].name, i);
  std::vector<size_t> order;
  enum class Mark { none, visiting, done };
  std::vector<Mark> marks(built.size(), Mark::none);
  std::vector<size_t> chain;
  std::function<Status(size_t)> visit = [&](size_t i) -> Status {
    if (marks[i] == Mark::done)
      return ok_status();
    if (marks[i] == Mark::visiting) {
      std::string cycle;
      for (auto pos = std::find(chain.begin(), chain.end(), i); pos != chain.end(); ++pos)
        cycle += built[*pos].name + " -> ";
      return bad_input(fmt::format("the scenario's modules depend on each other in a cycle: {}{} "
                                   "(the kernel cannot load them)",
                                   cycle, built[i].name));
    }
    marks[i] = Mark::visiting;
    chain.push_back(i);
    for (const auto& dep : built[i].depends)
      if (auto it = index_of.find(dep); it != index_of.end())
        if (auto ok = visit(it->second); !ok)
          return ok;
    chain.pop_back();
    marks[i] = Mark::done;
    order.push_back(i);
    return ok_status();
  };
  for (size_t i = 0; i < built.size(); ++i)
    if (auto ok = visit(i); !ok)
      return ok.error();
  return order;
}

Result<std::vector<KernelModuleFile>>
kernel_modules_for(const KernelModuleIndex& index, const std::vector<std::string>& profile_names,
                   const std::vector<ModuleDepends>& built, const std::string& release) {
  std::unordered_set<std::string> provided;
  for (const auto& m : built)
    provided.insert(m.name);
  std::vector<std::string> boot_names = profile_names, shipped_names;
  for (const auto& m : built)
    for (const auto& dep : m.depends) {
      if (provided.contains(dep))
        continue;
      if (index.find(dep) == KernelModuleIndex::Provider::none)
        return bad_input(fmt::format(
            "module {} (folder {}) depends on '{}' (its .modinfo depends), which kernel {} "
            "has neither as a module ({}) nor built in; add the folder that builds '{}' to the "
            "scenario's modules, or boot a kernel that has it",
            m.ko.filename().string(), m.folder.string(), dep, release,
            (index.dir() / "modules.dep").string(), dep));
      (m.load ? boot_names : shipped_names).push_back(dep);
    }
  // What must load (the profile's names and the .modinfo depends, with their
  // dependencies), then the same with every soft dependency: what modprobe would load.
  auto required = index.resolve(boot_names);
  if (!required)
    return required.error();
  std::vector<std::string> all_names = boot_names;
  all_names.insert(all_names.end(), shipped_names.begin(), shipped_names.end());
  auto required_all = index.resolve(all_names);
  if (!required_all)
    return required_all.error();
  // The built modules' own MODULE_SOFTDEP names, as the modules they bring.
  std::vector<std::string> soft_boot = boot_names, soft_all = all_names;
  for (const auto& m : built)
    for (const auto& soft : m.softdeps)
      for (const auto& file : index.soft_dependency_files(soft)) {
        if (provided.contains(module_name(file)))
          continue;
        if (m.load)
          soft_boot.push_back(module_name(file));
        soft_all.push_back(module_name(file));
      }
  auto boot = index.resolve_with_softdeps(soft_boot);
  if (!boot)
    return boot.error();
  auto all = index.resolve_with_softdeps(soft_all);
  if (!all)
    return all.error();
  std::unordered_set<std::string> at_boot(boot->begin(), boot->end());
  std::unordered_set<std::string> must_boot(required->begin(), required->end());
  std::unordered_set<std::string> needed(required_all->begin(), required_all->end());
  std::vector<KernelModuleFile> files;
  for (auto& path : *all) {
    bool boot_it = at_boot.contains(path);
    bool optional = !(boot_it ? must_boot : needed).contains(path);
    files.push_back({std::move(path), boot_it, optional});
  }
  return files;
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
