#include "judge/verdict.h"

#include <array>
#include <utility>

namespace labctl {

namespace {
constexpr std::array<std::pair<Verdict, std::string_view>, 4> k_verdict_names{{
    {Verdict::passed, "passed"},
    {Verdict::failed, "failed"},
    {Verdict::error, "error"},
    {Verdict::skipped, "skipped"},
}};
} // namespace

std::string_view to_string(Verdict verdict) {
  for (const auto& [v, name] : k_verdict_names)
    if (v == verdict)
      return name;
  return "error";
}

std::optional<Verdict> parse_verdict(std::string_view text) {
  for (const auto& [v, name] : k_verdict_names)
    if (name == text)
      return v;
  return std::nullopt;
}

} // namespace labctl
