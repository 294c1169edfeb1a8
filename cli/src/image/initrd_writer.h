#pragma once

#include "core/error.h"
#include "util/fs.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labctl {

// How the cpio archive is compressed; the kernel must have the matching CONFIG_RD_*.
enum class InitrdCompression { none, gzip, zstd };

// "none", "gzip" or "zstd".
std::string_view initrd_compression_name(InitrdCompression compression);

// The root filesystem of a guest, packed as a newc cpio archive that the kernel's initramfs
// unpacker accepts. Same entries give byte-identical output whatever the insertion order:
// entries are sorted by path, owned by root, dated 1970, numbered in that order.
//
// Paths are absolute guest paths ("/bin/sh") without ".", ".." or empty components; missing
// parent directories are added (0755). Adding a path again replaces the earlier entry (last
// wins, so a scenario's file can override the template's), except that a directory with
// entries below it can only be replaced by a directory, and nothing can be added below a
// file or symlink: both are bad_input errors.
class InitrdWriter {
public:
  // Add a directory with permission bits `mode` (at most 07777).
  Status add_directory(std::string_view guest_path, uint32_t mode = 0755);
  // Add a regular file holding `data`.
  Status add_file(std::string_view guest_path, std::string data, uint32_t mode = 0644);
  // Add a copy of a host file, read now; mode defaults to the host file's permission bits.
  // The error names the host file when it cannot be read.
  Status add_file_from_disk(std::string_view guest_path, const fs::path& host_path,
                            std::optional<uint32_t> mode = std::nullopt);
  // Add a symbolic link pointing at `target` (stored as given, relative or absolute).
  Status add_symlink(std::string_view guest_path, std::string_view target);

  // The archive, compressed as asked.
  Result<std::string> pack(InitrdCompression compression) const;

  // One "mode size path [-> target]" line per entry, in archive order, e.g.
  // "-rwxr-xr-x 1234 /init" or "lrwxrwxrwx 7 /bin/sh -> busybox".
  std::vector<std::string> listing() const;

  size_t size() const { return m_entries.size(); }

private:
  enum class Type { directory, file, symlink };
  struct Entry {
    Type type = Type::file;
    uint32_t mode = 0;
    std::string data; // file contents or symlink target
  };

  Status add(std::string_view guest_path, Entry entry);

  std::map<std::string, Entry> m_entries; // key: the guest path, "/bin/sh"
};

} // namespace labctl
