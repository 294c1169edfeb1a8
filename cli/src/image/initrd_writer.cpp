#include "image/initrd_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <utility>
#include <vector>

namespace labctl {

namespace {

// The kernel's initramfs unpacker rejects longer names (PATH_MAX including the NUL).
constexpr size_t k_max_path = 4095;

// A path for an error message, with NUL bytes made visible.
std::string shown(std::string_view path) {
  std::string out;
  for (char c : path)
    out += c == '\0' ? std::string("\\0") : std::string(1, c);
  return out;
}

Status validate_path(std::string_view path) {
  auto invalid = [&](std::string_view why) {
    return bad_input(fmt::format("invalid initrd path \"{}\": {}", shown(path), why));
  };
  if (path.empty())
    return invalid("empty");
  if (path.find('\0') != std::string_view::npos)
    return invalid("contains a NUL byte");
  if (path.front() != '/')
    return invalid("not absolute");
  if (path == "/")
    return invalid("the root directory itself");
  if (path.size() > k_max_path)
    return invalid(fmt::format("longer than {} bytes", k_max_path));
  // "/TRAILER!!!" (also as the parent added for a path below it) is stored as the name
  // that ends a newc archive: the kernel would stop there and drop every later entry.
  if (path == "/TRAILER!!!" || path.starts_with("/TRAILER!!!/"))
    return invalid("the archive name TRAILER!!! marks the end of a cpio archive");
  for (size_t begin = 1;;) {
    size_t end = path.find('/', begin);
    std::string_view part = path.substr(begin, end - begin);
    if (part.empty())
      return invalid("empty component");
    if (part == "." || part == "..")
      return invalid(fmt::format("\"{}\" component", part));
    if (end == std::string_view::npos)
      break;
    begin = end + 1;
  }
  return ok_status();
}

Status validate_mode(std::string_view path, uint32_t mode) {
  if (mode > 07777)
    return bad_input(fmt::format("initrd path {}: mode {:o} has bits beyond 07777", path, mode));
  return ok_status();
}

std::string mode_string(char type, uint32_t mode) {
  std::string s(1, type);
  const char rwx[] = "rwx";
  for (int shift = 6; shift >= 0; shift -= 3)
    for (int bit = 2; bit >= 0; --bit)
      s += (mode >> (shift + bit)) & 1 ? rwx[2 - bit] : '-';
  auto special = [&](uint32_t flag, size_t pos, char set, char unset_exec) {
    if (mode & flag)
      s[pos] = s[pos] == '-' ? unset_exec : set;
  };
  special(04000, 3, 's', 'S');
  special(02000, 6, 's', 'S');
  special(01000, 9, 't', 'T');
  return s;
}

la_ssize_t append_output(struct archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

} // namespace

std::string_view initrd_compression_name(InitrdCompression compression) {
  switch (compression) {
  case InitrdCompression::none:
    return "none";
  case InitrdCompression::gzip:
    return "gzip";
  case InitrdCompression::zstd:
    return "zstd";
  }
  return "unknown";
}

Status InitrdWriter::add(std::string_view guest_path, Entry entry) {
  if (auto ok = validate_path(guest_path); !ok)
    return ok;
  if (auto ok = validate_mode(guest_path, entry.mode); !ok)
    return ok;
  std::string path(guest_path);
  auto type_name = [](Type t) {
    return t == Type::directory ? "directory" : t == Type::file ? "file" : "symlink";
  };
  std::vector<std::string> missing_parents;
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string parent = path.substr(0, slash);
    auto it = m_entries.find(parent);
    if (it == m_entries.end())
      missing_parents.push_back(parent);
    else if (it->second.type != Type::directory)
      return bad_input(fmt::format("cannot add {} to the initrd: {} is a {}, not a directory", path,
                                   parent, type_name(it->second.type)));
  }
  if (auto it = m_entries.find(path); it != m_entries.end()) {
    std::string below = path + "/";
    auto child = m_entries.lower_bound(below);
    bool has_children = child != m_entries.end() && child->first.starts_with(below);
    if (it->second.type == Type::directory && entry.type != Type::directory && has_children)
      return bad_input(
          fmt::format("cannot replace directory {} in the initrd with a {}: {} is inside it", path,
                      type_name(entry.type), child->first));
    spdlog::debug("initrd: {} replaces the earlier {}", path, type_name(it->second.type));
  }
  for (auto& parent : missing_parents)
    m_entries.emplace(std::move(parent), Entry{Type::directory, 0755, {}});
  m_entries[path] = std::move(entry);
  return ok_status();
}

Status InitrdWriter::add_directory(std::string_view guest_path, uint32_t mode) {
  return add(guest_path, Entry{Type::directory, mode, {}});
}

Status InitrdWriter::add_file(std::string_view guest_path, std::string data, uint32_t mode) {
  return add(guest_path, Entry{Type::file, mode, std::move(data)});
}

Status InitrdWriter::add_file_from_disk(std::string_view guest_path, const fs::path& host_path,
                                        std::optional<uint32_t> mode) {
  if (auto ok = validate_path(guest_path); !ok)
    return ok;
  auto data = read_file(host_path);
  if (!data)
    return bad_input(
        fmt::format("cannot add {} to the initrd: {}", guest_path, data.error().message));
  if (!mode) {
    std::error_code ec;
    auto perms = fs::status(host_path, ec).permissions();
    if (ec)
      return bad_input(fmt::format("cannot add {} to the initrd: {}: {}", guest_path,
                                   host_path.string(), ec.message()));
    mode = static_cast<uint32_t>(perms) & 07777;
  }
  return add(guest_path, Entry{Type::file, *mode, std::move(*data)});
}

Status InitrdWriter::add_symlink(std::string_view guest_path, std::string_view target) {
  if (target.empty() || target.find('\0') != std::string_view::npos || target.size() > k_max_path)
    return bad_input(fmt::format("invalid target \"{}\" for initrd symlink {}", shown(target),
                                 shown(guest_path)));
  return add(guest_path, Entry{Type::symlink, 0777, std::string(target)});
}

Result<std::string> InitrdWriter::pack(InitrdCompression compression) const {
  // Declared before the archive: archive_write_free() may still flush into it.
  std::string out;
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_write_new(),
                                                              archive_write_free);
  auto failed = [&](std::string_view what) {
    return environment_error(fmt::format(
        "packing the initrd ({}): {}", what,
        archive_error_string(a.get()) ? archive_error_string(a.get()) : "libarchive error"));
  };
  if (archive_write_set_format_cpio_newc(a.get()) != ARCHIVE_OK)
    return failed("newc format");
  int r = ARCHIVE_OK;
  switch (compression) {
  case InitrdCompression::none:
    r = archive_write_add_filter_none(a.get());
    break;
  case InitrdCompression::gzip:
    r = archive_write_add_filter_gzip(a.get());
    // Without this libarchive stamps the current time into the gzip header.
    if (r == ARCHIVE_OK)
      r = archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr);
    break;
  case InitrdCompression::zstd:
    r = archive_write_add_filter_zstd(a.get());
    break;
  }
  // ARCHIVE_WARN means libarchive would pipe through an external program: not deterministic
  // enough to rely on, so refuse it.
  if (r != ARCHIVE_OK)
    return failed(fmt::format("{} filter", initrd_compression_name(compression)));
  // No blocking: the archive ends right after the cpio trailer, with no zero padding.
  archive_write_set_bytes_per_block(a.get(), 0);

  if (archive_write_open2(a.get(), &out, nullptr, append_output, nullptr, nullptr) != ARCHIVE_OK)
    return failed("open");
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(),
                                                                 archive_entry_free);
  int64_t inode = 0;
  for (const auto& [path, e] : m_entries) {
    archive_entry_clear(entry.get());
    archive_entry_set_pathname(entry.get(), path.c_str() + 1); // "bin/sh": relative to /
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    archive_entry_set_mtime(entry.get(), 0, 0);
    archive_entry_set_ino64(entry.get(), ++inode);
    archive_entry_set_perm(entry.get(), e.mode);
    switch (e.type) {
    case Type::directory:
      archive_entry_set_filetype(entry.get(), AE_IFDIR);
      archive_entry_set_nlink(entry.get(), 2);
      archive_entry_set_size(entry.get(), 0);
      break;
    case Type::file:
      archive_entry_set_filetype(entry.get(), AE_IFREG);
      archive_entry_set_nlink(entry.get(), 1);
      archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.data.size()));
      break;
    case Type::symlink:
      archive_entry_set_filetype(entry.get(), AE_IFLNK);
      archive_entry_set_nlink(entry.get(), 1);
      archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.data.size()));
      archive_entry_set_symlink(entry.get(), e.data.c_str());
      break;
    }
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK)
      return failed(path);
    if (e.type == Type::file && !e.data.empty() &&
        archive_write_data(a.get(), e.data.data(), e.data.size()) !=
            static_cast<la_ssize_t>(e.data.size()))
      return failed(path);
  }
  if (int closed = archive_write_close(a.get()); closed != ARCHIVE_OK)
    return failed(fmt::format("close {}", closed));
  spdlog::debug("initrd: {} entries, {} bytes ({})", m_entries.size(), out.size(),
                initrd_compression_name(compression));
  return out;
}

std::vector<std::string> InitrdWriter::listing() const {
  std::vector<std::string> lines;
  lines.reserve(m_entries.size());
  for (const auto& [path, e] : m_entries) {
    switch (e.type) {
    case Type::directory:
      lines.push_back(fmt::format("{} 0 {}", mode_string('d', e.mode), path));
      break;
    case Type::file:
      lines.push_back(fmt::format("{} {} {}", mode_string('-', e.mode), e.data.size(), path));
      break;
    case Type::symlink:
      lines.push_back(
          fmt::format("{} {} {} -> {}", mode_string('l', e.mode), e.data.size(), path, e.data));
      break;
    }
  }
  return lines;
}

} // namespace labctl
