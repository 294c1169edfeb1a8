#pragma once

#include "lab/initrd_writer.h"
#include "util/result.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace labctl {

// A built module as the guest loads it: insmod'ed in order with its params.
struct GuestModuleFile {
  std::string name;               // module name (the .ko's stem)
  std::filesystem::path ko;       // on the host
  std::string params;
};

// Everything that goes into a guest's initrd.
struct GuestImageSpec {
  std::filesystem::path busybox;
  std::vector<std::string> applets;           // "bin/sh", "sbin/mdev", ...
  std::filesystem::path initrd_dir;           // init.sh and agent.sh
  std::vector<GuestModuleFile> modules;
  std::map<std::string, std::filesystem::path> files; // guest path -> host file
  std::vector<std::string> kernel_modules;    // relative paths from modules.dep, load order
  std::filesystem::path kernel_modules_dir;   // /lib/modules/V
  std::string compression = "gzip";
};

// A packed initrd in the cache and what it contains.
struct GuestImage {
  std::filesystem::path path;
  std::vector<std::string> listing;
  bool cached = false;
};

// Pack (or reuse) the initrd for `spec`: deterministic bytes, cached under
// cache_dir/initrd/<content hash>.cpio with its size and hash in <...>.cpio.sum; an entry
// whose bytes no longer match is packed again.
Result<GuestImage> build_guest_image(const GuestImageSpec& spec,
                                     const std::filesystem::path& cache_dir);

} // namespace labctl
