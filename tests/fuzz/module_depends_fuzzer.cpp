// Fuzz target: the .modinfo reader of built modules (a .ko's ELF64 section table). Whatever
// the bytes, it returns the depends names or a bad_input error, never reads outside them,
// and every name it returns is non-empty, without ',' or '-'; the softdep reader, over the
// same section walk, fails exactly when it does and returns names without whitespace.
#include "image/module_deps.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto depends = labctl::module_depends(bytes, "fuzz.ko");
  auto softdeps = labctl::module_softdeps(bytes, "fuzz.ko");
  if (depends.ok() != softdeps.ok())
    __builtin_trap();
  if (softdeps)
    for (const auto& name : *softdeps)
      if (name.empty() || name.find_first_of(" \t\r\n") != std::string::npos)
        __builtin_trap();
  if (!depends) {
    if (depends.error().code != labctl::ExitCode::bad_input)
      __builtin_trap();
    return 0;
  }
  for (const auto& name : *depends)
    if (name.empty() || name.find(',') != std::string::npos || name.find('-') != std::string::npos)
      __builtin_trap();
  return 0;
}
