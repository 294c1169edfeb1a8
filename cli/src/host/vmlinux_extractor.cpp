#include "host/vmlinux_extractor.h"

#include "util/content_hash.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace labctl {

namespace {

// The largest kernel we are willing to decompress; Debian's is ~64 MiB.
constexpr size_t k_max_kernel_size = size_t{512} << 20;
// Bumped when the extraction changes, so stale cache entries are never reused.
constexpr std::string_view k_cache_format = "labctl-vmlinux-1";

constexpr uint16_t k_em_x86_64 = 62;
constexpr uint16_t k_et_exec = 2;
constexpr uint32_t k_pt_note = 4;
constexpr uint32_t k_sht_nobits = 8;
constexpr uint32_t k_xen_elfnote_phys32_entry = 18;

// Little-endian field of `size` bytes at `offset`; the caller has checked the bounds.
uint64_t le(std::string_view data, size_t offset, size_t size) {
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i)
    value |= uint64_t{static_cast<uint8_t>(data[offset + i])} << (8 * i);
  return value;
}

// True when [offset, offset + length) lies inside a buffer of `size` bytes.
bool fits(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

std::string hex_bytes(std::string_view data, size_t count) {
  std::string out;
  for (size_t i = 0; i < std::min(count, data.size()); ++i)
    out += fmt::format("{}{:02x}", i ? " " : "", static_cast<uint8_t>(data[i]));
  return out;
}

// Decompresses one candidate payload and checks it is a bootable kernel.
Result<std::string> decompress_kernel(std::string_view payload) {
  Compression c = detect_compression(payload);
  if (c == Compression::none)
    return bad_input(fmt::format("bzImage payload has an unsupported compression (starts with {})",
                                 hex_bytes(payload, 6)));
  // The kernel build appends the uncompressed size (le32) to the payload; only a hint.
  size_t hint = payload.size() >= 4 ? le(payload, payload.size() - 4, 4) : 0;
  auto elf = decompress(payload, c, k_max_kernel_size, hint);
  if (!elf)
    return bad_input(fmt::format("bzImage payload: {}", elf.error().message));
  if (auto ok = check_pvh_elf(*elf); !ok)
    return bad_input(fmt::format("decompressed kernel {}", ok.error().message));
  return elf;
}

// For setup headers older than boot protocol 2.08 (no payload fields): try every known
// magic after the real-mode setup, first match that yields a PVH ELF wins.
Result<std::string> scan_for_kernel(std::string_view image, size_t start) {
  static constexpr std::string_view magics[] = {{"\xfd"
                                                 "7zXZ\0",
                                                 6},
                                                {"\x1f\x8b\x08", 3},
                                                {"\x28\xb5\x2f\xfd", 4}};
  std::vector<size_t> candidates;
  for (auto magic : magics)
    for (size_t pos = image.find(magic, start); pos != std::string_view::npos;
         pos = image.find(magic, pos + 1))
      candidates.push_back(pos);
  std::sort(candidates.begin(), candidates.end());
  if (candidates.empty())
    return bad_input("no compressed kernel found in the bzImage (no xz, gzip or zstd magic)");
  constexpr size_t k_max_attempts = 16;
  Error last;
  for (size_t i = 0; i < std::min(candidates.size(), k_max_attempts); ++i) {
    auto elf = decompress_kernel(image.substr(candidates[i]));
    if (elf)
      return elf;
    spdlog::debug("bzImage scan: candidate at offset {}: {}", candidates[i], elf.error().message);
    last = elf.error();
  }
  return last;
}

// A read-only mapping of a whole file; mapping (unlike reading) touches only the pages the
// ELF check looks at, so validating a 64 MiB cache entry costs microseconds.
class MappedFile {
public:
  static Result<MappedFile> open(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return environment_error(fmt::format("{}: {}", path.string(), std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return environment_error(fmt::format("{}: {}", path.string(), std::strerror(err)));
    }
    MappedFile file;
    file.m_size = static_cast<size_t>(st.st_size);
    if (file.m_size > 0) {
      void* p = ::mmap(nullptr, file.m_size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return environment_error(fmt::format("{}: mmap: {}", path.string(), std::strerror(err)));
      }
      file.m_data = p;
    }
    ::close(fd);
    return file;
  }
  MappedFile(MappedFile&& other) noexcept
      : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0)) {}
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile() {
    if (m_data)
      ::munmap(m_data, m_size);
  }
  std::string_view view() const {
    return m_data ? std::string_view(static_cast<const char*>(m_data), m_size) : std::string_view();
  }

private:
  MappedFile() = default;
  void* m_data = nullptr;
  size_t m_size = 0;
};

// Why the cache entry at `path` cannot be used, or ok.
Status check_cache_entry(const fs::path& path) {
  auto file = MappedFile::open(path);
  if (!file)
    return file.error();
  if (auto ok = check_pvh_elf(file->view()); !ok)
    return bad_input(fmt::format("cached kernel {} {}", path.string(), ok.error().message));
  return ok_status();
}

} // namespace

Status check_pvh_elf(std::string_view elf) {
  const uint64_t size = elf.size();
  if (size < 64)
    return bad_input(fmt::format("is not an ELF file ({} bytes, too short for a header)", size));
  if (elf.substr(0, 4) != "\x7f"
                          "ELF")
    return bad_input("is not an ELF file (no \\x7fELF magic)");
  if (elf[4] != 2 || elf[5] != 1)
    return bad_input("is not a 64-bit little-endian ELF file");
  if (auto type = le(elf, 16, 2); type != k_et_exec)
    return bad_input(fmt::format("is not an ELF executable (e_type {})", type));
  if (auto machine = le(elf, 18, 2); machine != k_em_x86_64)
    return bad_input(fmt::format("is not an x86-64 ELF file (e_machine {})", machine));

  uint64_t phoff = le(elf, 32, 8), shoff = le(elf, 40, 8);
  uint64_t phentsize = le(elf, 54, 2), phnum = le(elf, 56, 2);
  uint64_t shentsize = le(elf, 58, 2), shnum = le(elf, 60, 2);
  if (phnum == 0 || phentsize < 56)
    return bad_input("has no program headers");
  if (!fits(phoff, phnum * phentsize, size))
    return bad_input(fmt::format("is truncated: program headers end at byte {}, file has {}",
                                 phoff + phnum * phentsize, size));

  bool pvh = false;
  for (uint64_t i = 0; i < phnum; ++i) {
    size_t ph = phoff + i * phentsize;
    uint64_t type = le(elf, ph, 4), offset = le(elf, ph + 8, 8), filesz = le(elf, ph + 32, 8);
    if (!fits(offset, filesz, size))
      return bad_input(fmt::format("is truncated: segment {} ends at byte {}, file has {}", i,
                                   offset + filesz, size));
    if (type != k_pt_note)
      continue;
    // Notes: namesz, descsz, type (4 bytes each), then name and desc, each 4-byte aligned.
    uint64_t pos = offset, end = offset + filesz;
    while (end - pos >= 12) {
      uint64_t namesz = le(elf, pos, 4), descsz = le(elf, pos + 4, 4), note = le(elf, pos + 8, 4);
      uint64_t name = pos + 12, desc = name + ((namesz + 3) & ~uint64_t{3});
      uint64_t next = desc + ((descsz + 3) & ~uint64_t{3});
      if (next > end)
        break;
      if (note == k_xen_elfnote_phys32_entry && namesz == 4 &&
          elf.substr(name, 4) == std::string_view("Xen\0", 4) && descsz >= 4)
        pvh = true;
      pos = next;
    }
  }
  // vmlinux keeps its section headers at the very end, so this catches a cut-off file.
  if (shoff != 0 && shnum != 0) {
    if (shentsize < 64 || !fits(shoff, shnum * shentsize, size))
      return bad_input(fmt::format("is truncated: section headers end at byte {}, file has {}",
                                   shoff + shnum * shentsize, size));
    for (uint64_t i = 0; i < shnum; ++i) {
      size_t sh = shoff + i * shentsize;
      uint64_t type = le(elf, sh + 4, 4), offset = le(elf, sh + 24, 8), sz = le(elf, sh + 32, 8);
      if (type != k_sht_nobits && !fits(offset, sz, size))
        return bad_input(fmt::format("is truncated: section {} ends at byte {}, file has {}", i,
                                     offset + sz, size));
    }
  }
  if (!pvh)
    return bad_input(
        "has no PVH note (ELF note \"Xen\" type 18, XEN_ELFNOTE_PHYS32_ENTRY; the kernel needs "
        "CONFIG_PVH=y to be booted from its ELF)");
  return ok_status();
}

Result<std::string> extract_vmlinux(std::string_view bzimage) {
  if (bzimage.empty())
    return bad_input("not a bzImage: the file is empty");
  // x86 boot protocol (Documentation/x86/boot.rst): the setup header sits in sector 0.
  constexpr size_t k_setup_sects = 0x1f1, k_header = 0x202, k_version = 0x206;
  constexpr size_t k_payload_offset = 0x248, k_payload_length = 0x24c;
  if (bzimage.size() < k_payload_length + 4 || bzimage.substr(k_header, 4) != "HdrS")
    return bad_input("not a bzImage: no HdrS magic at offset 0x202");
  size_t setup_sects = static_cast<uint8_t>(bzimage[k_setup_sects]);
  if (setup_sects == 0)
    setup_sects = 4; // "if this field is 0, the real value is 4"
  size_t protected_mode = (setup_sects + 1) * 512;
  if (protected_mode >= bzimage.size())
    return bad_input(fmt::format("bzImage truncated: the setup code ends at byte {}, file has {}",
                                 protected_mode, bzimage.size()));
  uint64_t version = le(bzimage, k_version, 2);
  uint64_t offset = le(bzimage, k_payload_offset, 4), length = le(bzimage, k_payload_length, 4);
  if (version < 0x208 || length == 0) {
    spdlog::debug("bzImage boot protocol {:x}.{:02x} has no payload fields; scanning for magics",
                  version >> 8, version & 0xff);
    return scan_for_kernel(bzimage, protected_mode);
  }
  std::string_view kernel = bzimage.substr(protected_mode);
  if (!fits(offset, length, kernel.size()))
    return bad_input(fmt::format("bzImage truncated: the payload ends at byte {}, file has {}",
                                 protected_mode + offset + length, bzimage.size()));
  return decompress_kernel(kernel.substr(offset, length));
}

fs::path bootable_kernel(const fs::path& image, const fs::path& cache_dir, std::string* why_not) {
  auto fall_back = [&](std::string reason) {
    spdlog::debug("booting {} as it is: {}", image.string(), reason);
    if (why_not)
      *why_not = std::move(reason);
    return image;
  };
  // One extraction at a time in this process: parallel runs of the same kernel wait for the
  // first instead of decompressing 64 MiB each (other processes are safe by the atomic rename).
  static std::mutex mutex;
  std::lock_guard lock(mutex);

  auto data = read_file(image);
  if (!data)
    return fall_back(data.error().message);
  if (data->substr(0, 4) == "\x7f"
                            "ELF") {
    if (auto ok = check_pvh_elf(*data); !ok)
      return fall_back(fmt::format("{} {}", image.string(), ok.error().message));
    return image;
  }
  ContentHash hash;
  hash.add(k_cache_format).add(*data);
  fs::path cached = cache_dir / "vmlinux" / (hash.hex() + ".elf");
  // Why extraction failed, so an image without a PVH kernel in it (a self-built kernel
  // without CONFIG_PVH) does not cost a 64 MiB decompression on every run.
  fs::path failed = cache_dir / "vmlinux" / (hash.hex() + ".failed");

  std::error_code ec;
  if (fs::exists(cached, ec)) {
    if (auto ok = check_cache_entry(cached); ok) {
      spdlog::debug("kernel {}: cached PVH ELF {}", image.string(), cached.string());
      return cached;
    } else {
      spdlog::debug("{}; extracting again", ok.error().message);
    }
  } else if (fs::exists(failed, ec)) {
    if (auto reason = read_file(failed); reason && !reason->empty())
      return fall_back(
          fmt::format("cannot extract a PVH kernel from {}: {}", image.string(), *reason));
  }
  auto elf = extract_vmlinux(*data);
  if (!elf) {
    // Only a verdict on the image itself is remembered, not a passing host problem.
    if (elf.error().code == ExitCode::bad_input) {
      if (auto written = write_file_atomic(failed, elf.error().message); !written)
        spdlog::debug("cannot remember the failure: {}", written.error().message);
    }
    return fall_back(fmt::format("cannot extract a PVH kernel from {}: {}", image.string(),
                                 elf.error().message));
  }
  if (auto written = write_file_atomic(cached, *elf); !written)
    return fall_back(fmt::format("cannot cache the extracted kernel: {}", written.error().message));
  spdlog::debug("kernel {}: extracted {} MiB PVH ELF to {}", image.string(), elf->size() >> 20,
                cached.string());
  return cached;
}

} // namespace labctl
