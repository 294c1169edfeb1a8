#pragma once

#include "core/error.h"
#include "host/decompress.h"
#include "util/fs.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace labctl {

// Ok when `elf` is a complete x86-64 ELF executable carrying the PVH entry note (owner
// "Xen", type XEN_ELFNOTE_PHYS32_ENTRY), which QEMU needs to boot it with -kernel.
Status check_pvh_elf(std::string_view elf);

// The uncompressed kernel ELF inside an x86 bzImage, found through the boot protocol's
// setup header and checked with check_pvh_elf; bad_input when the image is not usable.
Result<std::string> extract_vmlinux(std::string_view bzimage);

// The kernel to pass to QEMU's -kernel: the PVH ELF extracted from `image` and cached as
// cache_dir/vmlinux/<hash>.elf (boots ~5 s faster under TCG), or `image` itself when that is
// not possible, with the reason in *why_not. Safe to call from several threads and processes.
fs::path bootable_kernel(const fs::path& image, const fs::path& cache_dir,
                         std::string* why_not = nullptr);

} // namespace labctl
