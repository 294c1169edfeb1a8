#include "build/module_cache.h"

#include "util/content_hash.h"
#include "util/fs.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <sys/stat.h>

namespace labctl {

namespace {

// Files kbuild writes into M=; they never belong to the sources.
bool is_build_product(const fs::path& p) {
  std::string name = p.filename().string();
  static const char* suffixes[] = {".o",     ".ko",      ".mod", ".mod.c", ".cmd",
                                   ".order", ".symvers", ".a",   ".dwo",   ".tmp"};
  for (const char* s : suffixes)
    if (name.ends_with(s))
      return true;
  return name == ".tmp_versions" || name == ".cache.mk";
}

std::string stat_fields(const struct stat& st) {
  return fmt::format("{}\t{}\t{}", static_cast<long long>(st.st_size),
                     static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec,
                     static_cast<long long>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec);
}

// Whether every recorded input still has its content. A file whose size, mtime and ctime
// are as recorded is unchanged (nothing can write a file without moving its ctime), so
// only files whose stat moved are read and hashed again: the check stays a few stats for
// the hundreds of kernel headers a module includes.
bool inputs_unchanged(const fs::path& dir) {
  auto text = read_file(dir / k_inputs);
  if (!text)
    return false; // an entry from before inputs were recorded: build again
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty())
      continue;
    auto tab = line.find('\t');
    auto last = line.rfind('\t');
    if (tab == std::string::npos || last == tab)
      return false;
    std::string path = line.substr(0, tab);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      spdlog::debug("build input {} is gone; building again", path);
      return false;
    }
    std::string recorded = line.substr(tab + 1, last - tab - 1);
    if (stat_fields(st) == recorded)
      continue;
    // Size first: a different size is a different file without reading it.
    if (recorded.substr(0, recorded.find('\t')) != std::to_string(st.st_size)) {
      spdlog::debug("build input {} changed; building again", path);
      return false;
    }
    auto bytes = read_file(path);
    if (!bytes || hash_hex(*bytes) != line.substr(last + 1)) {
      spdlog::debug("build input {} changed; building again", path);
      return false;
    }
  }
  return true;
}

} // namespace

Result<std::vector<fs::path>> module_source_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec)
    return bad_input(fmt::format("module folder {}: {}", dir.string(), ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec)
      return bad_input(fmt::format("module folder {}: {}", dir.string(), ec.message()));
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (it->is_directory() && (name == ".git" || name == ".tmp_versions")) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && !is_build_product(p))
      files.push_back(fs::relative(p, dir));
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string stamp_line(const fs::path& relative, std::string_view bytes) {
  return fmt::format("{}\t{}\t{}\n", relative.string(), bytes.size(), hash_hex(bytes));
}

std::optional<std::vector<fs::path>> cached_kos(const fs::path& dir) {
  auto stamp = read_file(dir / k_stamp);
  if (!stamp)
    return std::nullopt;
  std::vector<fs::path> kos;
  std::istringstream lines(*stamp);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty())
      continue;
    auto tab = line.find('\t');
    if (tab == std::string::npos)
      return std::nullopt; // an older stamp without sizes and hashes: build again
    fs::path ko = dir / "src" / line.substr(0, tab);
    auto bytes = read_file(ko);
    if (!bytes ||
        bytes->compare(0, 4,
                       "\x7f"
                       "ELF") != 0 ||
        stamp_line(line.substr(0, tab), *bytes) != line + "\n") {
      spdlog::debug("cached module {} is missing, truncated or changed; building again",
                    ko.string());
      return std::nullopt;
    }
    kos.push_back(ko);
  }
  if (kos.empty() || !inputs_unchanged(dir))
    return std::nullopt;
  return kos;
}

Result<std::string> record_inputs(const fs::path& copy, const std::vector<std::string>& copy_names,
                                  const fs::path& kernel_build) {
  std::set<std::string> inputs;
  std::error_code ec;
  const fs::path objtree = fs::canonical(kernel_build, ec);
  for (const auto& entry : fs::recursive_directory_iterator(copy, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with(".") || !name.ends_with(".cmd") || !entry.is_regular_file())
      continue;
    auto text = read_file(entry.path());
    if (!text)
      return bad_input(text.error());
    for (auto& dep : parse_kbuild_cmd(*text)) {
      bool in_copy = std::any_of(copy_names.begin(), copy_names.end(),
                                 [&](const auto& c) { return dep.starts_with(c + "/"); });
      if (in_copy)
        continue;
      inputs.insert(dep.starts_with("/") ? dep : (objtree / dep).string());
    }
  }
  std::string out;
  for (const auto& path : inputs) {
    struct stat st {};
    auto bytes = read_file(path);
    if (::stat(path.c_str(), &st) != 0 || !bytes)
      continue; // a file kbuild names but did not need (it is gone already)
    out += fmt::format("{}\t{}\t{}\n", path, stat_fields(st), hash_hex(*bytes));
  }
  return out;
}

std::vector<std::string> parse_kbuild_cmd(std::string_view text) {
  std::vector<std::string> deps;
  std::istringstream lines{std::string(text)};
  std::string line;
  bool in_deps = false;
  auto trim = [](std::string v) {
    size_t b = v.find_first_not_of(" \t");
    size_t e = v.find_last_not_of(" \t\\");
    return b == std::string::npos || e < b ? std::string() : v.substr(b, e - b + 1);
  };
  while (std::getline(lines, line)) {
    if (in_deps) {
      std::string entry = trim(line);
      if (!entry.empty() && !entry.starts_with("$(wildcard"))
        deps.push_back(entry);
      if (!line.ends_with("\\"))
        in_deps = false;
      continue;
    }
    auto assign = line.find(" := ");
    if (line.starts_with("source_") && assign != std::string::npos) {
      std::string source = trim(line.substr(assign + 4));
      if (!source.empty())
        deps.push_back(source);
    } else if (line.starts_with("deps_") && assign != std::string::npos) {
      std::string rest = line.substr(assign + 4);
      std::string entry = trim(rest);
      if (!entry.empty() && !entry.starts_with("$(wildcard"))
        deps.push_back(entry);
      in_deps = rest.ends_with("\\");
    }
  }
  return deps;
}

Result<std::string> module_cache_key(const ModuleBuildRequest& request) {
  ContentHash h;
  h.add("labctl-module-build-v1");
  auto files = module_source_files(request.source_dir);
  if (!files)
    return files.error();
  for (const auto& rel : *files) {
    h.add(rel.string());
    if (auto s = h.add_file(request.source_dir / rel); !s)
      return s.error();
  }
  // The folder's own place: the inputs kbuild read outside it (`$(PWD)/../include`) are
  // recorded by absolute path and its warnings name its files, so two checkouts of the same
  // folder never share an entry (the second would be checked against the first's headers).
  h.add(fs::absolute(request.source_dir).lexically_normal().string());
  const fs::path& build = request.kernel.build_dir;
  h.add(fs::absolute(build).string());
  h.add(request.kernel.version);
  // The kernel's configuration and exported symbols decide what a module compiles to.
  for (const char* f : {".config", "Module.symvers", "include/config/kernel.release"}) {
    std::error_code ec;
    if (fs::exists(build / f, ec)) {
      h.add(f);
      if (auto s = h.add_file(build / f); !s)
        return s.error();
    }
  }
  for (const auto& flag : request.make_flags)
    h.add(flag);
  // The symbols of the modules this one links against decide its CRCs and its modpost.
  for (const auto& symvers : request.extra_symbols) {
    h.add("extra-symbols");
    if (auto s = h.add_file(symvers); !s)
      return s.error();
  }
  return h.hex();
}

} // namespace labctl
