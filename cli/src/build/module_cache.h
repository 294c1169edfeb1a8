#pragma once

// The module cache: what an entry under cache/modules/<key>/ holds and when it may be reused
// (its key, the stamp of its .ko files, the manifest of the inputs kbuild read).

#include "build/module_build.h"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// Files of a finished entry, beside its src/ copy. The stamp lists the built .ko files with
// their sizes and hashes; written last, so its presence means the build finished.
inline constexpr const char* k_stamp = "labctl-build.ok";
// The inputs kbuild read for a finished build that lie outside the key's source folder:
// one line per file, `path\tsize\tmtime_ns\tctime_ns\thash`.
inline constexpr const char* k_inputs = "labctl-inputs";
// The warnings of the build that made this cache entry.
inline constexpr const char* k_warnings = "labctl-warnings.txt";

// The cache key: sources (names and contents), the kernel's build tree identity, flags.
Result<std::string> module_cache_key(const ModuleBuildRequest& request);

// The folder's sources, relative to it and sorted: regular files except kbuild's products
// (.o, .ko, .cmd, ...) and what is under .git.
Result<std::vector<std::filesystem::path>> module_source_files(const std::filesystem::path& dir);

// One stamp line: the .ko's path relative to src/, its size and content hash, so that a
// truncated or altered cache entry is noticed and built again.
std::string stamp_line(const std::filesystem::path& relative, std::string_view bytes);

// The .ko files of the finished entry `dir`, each still the size and content it had when
// the build finished (and an ELF file), while every recorded input is unchanged (a file whose
// size, mtime and ctime are as recorded is not read again); nullopt: build again.
std::optional<std::vector<std::filesystem::path>> cached_kos(const std::filesystem::path& dir);

// The k_inputs manifest: every file the .*.cmd files under `copy` name, except those inside
// the build copy itself (the sources are in the key; the rest kbuild made). `copy_names` are
// the names make knew the copy by; relative paths are relative to the kernel build tree.
Result<std::string> record_inputs(const std::filesystem::path& copy,
                                  const std::vector<std::string>& copy_names,
                                  const std::filesystem::path& kernel_build);

// The files one kbuild `.*.cmd` file names as inputs (its source_ and deps_ entries, without
// the $(wildcard include/config/...) lines), as written (relative to the kernel build tree
// or absolute).
std::vector<std::string> parse_kbuild_cmd(std::string_view text);

} // namespace labctl
