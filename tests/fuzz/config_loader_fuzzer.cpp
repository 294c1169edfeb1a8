// Fuzz target: scenario and profile files. Any bytes must give a Scenario/Profile or a
// bad-input Error naming the file, never a crash, a hang or an exception escaping.
#include "config/profile.h"
#include "config/scenario.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

// Relative paths in the input resolve under a folder that does not exist, so the loader's
// existence checks run but find nothing of the host's.
const std::filesystem::path k_file = "/nonexistent/labctl-fuzz/input.json";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto scenario = labctl::parse_scenario(text, k_file);
  if (!scenario && (scenario.error().code != labctl::ExitCode::bad_input ||
                    scenario.error().message.find(k_file.string()) == std::string::npos))
    __builtin_trap(); // every rejection is bad input that names the file
  auto profile = labctl::parse_profile(text, k_file);
  if (!profile && profile.error().code != labctl::ExitCode::bad_input)
    __builtin_trap();
  return 0;
}
