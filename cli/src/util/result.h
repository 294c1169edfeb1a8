#pragma once

#include "util/exit_code.h"

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace labctl {

// An expected failure: what went wrong (with file:line, command or errno text) and
// the exit code it maps to if it reaches the top.
struct Error {
  ExitCode code = ExitCode::failed;
  std::string message;
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

// Thrown for errors that end the command; main() turns it into one message and the exit code.
class FatalError : public std::runtime_error {
public:
  explicit FatalError(Error error) : std::runtime_error(error.message), m_error(std::move(error)) {}
  const Error& error() const { return m_error; }

private:
  Error m_error;
};

// A value or an Error (std::expected is C++23).
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : m_data(std::move(value)) {}
  Result(Error error) : m_data(std::move(error)) {}

  bool ok() const { return m_data.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(m_data); }

  // The value, or throw FatalError carrying the error.
  T take() && {
    if (!ok())
      throw FatalError(std::get<1>(m_data));
    return std::move(std::get<0>(m_data));
  }

private:
  T& checked() {
    if (!ok())
      throw FatalError(std::get<1>(m_data));
    return std::get<0>(m_data);
  }
  std::variant<T, Error> m_data;
};

struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() {
  return Unit{};
}

} // namespace labctl
