#pragma once

#include <optional>
#include <string_view>

namespace labctl {

// How one scenario ended. error: it could not be run to a verdict of its own (the
// environment failed, or a signal interrupted it); the exit code says which.
enum class Verdict { passed, failed, error };

// "passed", "failed", "error": the word the JSON and JUnit reports use.
std::string_view to_string(Verdict verdict);
// The inverse of to_string; nullopt for any other text.
std::optional<Verdict> parse_verdict(std::string_view text);

} // namespace labctl
