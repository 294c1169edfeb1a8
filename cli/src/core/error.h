#pragma once

#include "core/exit_code.h"
#include "util/result.h"

#include <cerrno>
#include <stdexcept>
#include <string>
#include <utility>

namespace labctl {

// An expected failure: what went wrong (with file:line, command or errno text) and
// the exit code it maps to if it reaches the top.
struct Error {
  ExitCode code = ExitCode::failed;
  std::string message;

  Error() = default;
  Error(ExitCode code_, std::string message_) : code(code_), message(std::move(message_)) {}
  // A util failure where the caller did not decide otherwise: the environment's (a file,
  // socket or program of this machine), or interrupted when an interrupt stopped it.
  Error(const util::Failure& failure)
      : code(failure.error_number == EINTR ? ExitCode::interrupted : ExitCode::environment),
        message(failure.message) {}
};

inline Error bad_input(std::string message) {
  return {ExitCode::bad_input, std::move(message)};
}
inline Error environment_error(std::string message) {
  return {ExitCode::environment, std::move(message)};
}
inline Error failure(std::string message) {
  return {ExitCode::failed, std::move(message)};
}
// A util failure caused by what the user gave (a scenario's file, a pattern, a JSON text).
inline Error bad_input(const util::Failure& failure) {
  return bad_input(failure.message);
}
inline Error environment_error(const util::Failure& failure) {
  return environment_error(failure.message);
}

// Thrown for errors that end the command; main() turns it into one message and the exit code.
class FatalError : public std::runtime_error {
public:
  explicit FatalError(Error error) : std::runtime_error(error.message), m_error(std::move(error)) {}
  const Error& error() const { return m_error; }

private:
  Error m_error;
};

// What `take()` on a Result throws.
[[noreturn]] inline void throw_error(const Error& error) {
  throw FatalError(error);
}

// labctl's results carry an Error; a util Result converts to one (see Error(util::Failure)).
template <typename T> using Result = util::Result<T, Error>;
using util::ok_status;
using util::Unit;
using Status = Result<Unit>;

} // namespace labctl
