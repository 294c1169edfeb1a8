// Fuzz target: InitrdWriter's validation of guest paths, modes and type conflicts. The
// input is a list of operations; whatever was accepted must pack into an archive that
// libarchive reads back entry for entry, with only valid absolute paths in it.
//
// Each operation: a type byte (directory, file, symlink), a 16-bit mode, a length byte and
// that many bytes of path, a length byte and that many bytes of data (contents or target).
#include "image/initrd_writer.h"

#include <archive.h>
#include <archive_entry.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

class Input {
public:
  Input(const uint8_t* data, size_t size) : m_data(data), m_size(size) {}
  bool empty() const { return m_pos >= m_size; }
  uint8_t byte() { return m_pos < m_size ? m_data[m_pos++] : 0; }
  std::string bytes(size_t n) {
    n = std::min(n, m_size - m_pos);
    std::string s(reinterpret_cast<const char*>(m_data + m_pos), n);
    m_pos += n;
    return s;
  }

private:
  const uint8_t* m_data;
  size_t m_size;
  size_t m_pos = 0;
};

// The entry names of a packed newc archive, in order; traps when it does not read back.
std::vector<std::string> read_back(const std::string& archive_bytes) {
  std::vector<std::string> names;
  struct archive* a = archive_read_new();
  archive_read_support_format_cpio(a);
  archive_read_support_filter_none(a);
  if (archive_read_open_memory(a, archive_bytes.data(), archive_bytes.size()) != ARCHIVE_OK)
    __builtin_trap();
  struct archive_entry* entry = nullptr;
  int r;
  while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK)
    names.emplace_back(archive_entry_pathname(entry));
  if (r != ARCHIVE_EOF)
    __builtin_trap();
  archive_read_free(a);
  return names;
}

bool valid_path(std::string_view p) {
  if (p.empty() || p.front() != '/' || p == "/" || p.back() == '/' || p == "/TRAILER!!!" ||
      p.starts_with("/TRAILER!!!/"))
    return false;
  return p.find("//") == std::string_view::npos && p.find("/./") == std::string_view::npos &&
         p.find("/../") == std::string_view::npos && !p.ends_with("/.") && !p.ends_with("/..") &&
         p.find('\0') == std::string_view::npos;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  labctl::InitrdWriter writer;
  for (int ops = 0; !in.empty() && ops < 64; ++ops) {
    uint8_t type = in.byte() % 3;
    uint32_t mode = in.byte();
    mode = mode << 8 | in.byte();
    std::string path = in.bytes(in.byte());
    std::string payload = in.bytes(in.byte());
    labctl::Status s = type == 0   ? writer.add_directory(path, mode)
                       : type == 1 ? writer.add_file(path, payload, mode)
                                   : writer.add_symlink(path, payload);
    if (s.ok() && !valid_path(path))
      __builtin_trap(); // an invalid path was accepted
    if (!s.ok() && s.error().code != labctl::ExitCode::bad_input)
      __builtin_trap();
  }
  auto listing = writer.listing();
  if (listing.size() != writer.size())
    __builtin_trap();
  auto packed = writer.pack(labctl::InitrdCompression::none);
  if (!packed)
    __builtin_trap();
  auto names = read_back(*packed);
  if (names.size() != writer.size())
    __builtin_trap();
  for (const auto& name : names) {
    // libarchive hands back newc names without the leading slash.
    if (!valid_path("/" + name) && !valid_path(name))
      __builtin_trap();
  }
  return 0;
}
