#pragma once

#include <optional>
#include <string_view>

namespace labctl {

// How one scenario ended. error: it could not be run to a verdict of its own (the
// environment failed, or a signal interrupted it); the exit code says which. skipped: it
// does not apply here (the kernel is outside what it or its module supports), with the
// reason; nothing was built or booted for it, and it exits 0 like a pass.
enum class Verdict { passed, failed, error, skipped };

// "passed", "failed", "error", "skipped": the word the JSON and JUnit reports use.
std::string_view to_string(Verdict verdict);
// True for the verdicts that do not fail a run: passed and skipped.
inline bool passing(Verdict verdict) {
  return verdict == Verdict::passed || verdict == Verdict::skipped;
}
// The inverse of to_string; nullopt for any other text.
std::optional<Verdict> parse_verdict(std::string_view text);

} // namespace labctl
