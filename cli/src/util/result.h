#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

// Results of util/: what went wrong, in words and (where a system call failed) its errno.
// util/ decides no exit code; the layer that calls it does (core/error.h).
namespace labctl::util {

struct Failure {
  std::string message;  // names the path, command or call, with strerror text
  int error_number = 0; // the errno behind it, 0 when none; EINTR: stopped by an interrupt
};

// The failure of the system call that just set errno: "<what>: <strerror>" with that errno.
inline Failure errno_failure(std::string what) {
  int err = errno;
  return {what + ": " + std::strerror(err), err};
}

// Thrown by `take()` on a util Result and by constructors that cannot return one (TempDir).
class FailureError : public std::runtime_error {
public:
  explicit FailureError(Failure failure)
      : std::runtime_error(failure.message), m_failure(std::move(failure)) {}
  const Failure& failure() const { return m_failure; }

private:
  Failure m_failure;
};

[[noreturn]] inline void throw_error(const Failure& failure) {
  throw FailureError(failure);
}

// A value or an error E (std::expected is C++23). Reading the value of an error (value(),
// `*`, `->`) is a programming error and aborts with the error's message: check `ok()`
// first, or call `take()`, which throws (through `throw_error(E)`, found next to E).
template <typename T, typename E = Failure> class [[nodiscard]] Result {
public:
  Result(T value) : m_data(std::in_place_index<0>, std::move(value)) {}
  Result(E error) : m_data(std::in_place_index<1>, std::move(error)) {}
  // An error of another kind that converts to E (a util Failure to a labctl Error).
  template <typename G>
  requires(!std::is_same_v<std::remove_cvref_t<G>, E> && std::is_convertible_v<const G&, E> &&
           !std::is_convertible_v<const G&, T>) Result(const G& error)
      : m_data(std::in_place_index<1>, E(error)) {}
  // The same value with an error of another kind that converts to E.
  template <typename G>
  requires(!std::is_same_v<G, E> && std::is_convertible_v<const G&, E>) Result(Result<T, G> other)
      : m_data(other.ok() ? Data(std::in_place_index<0>, std::move(other).value())
                          : Data(std::in_place_index<1>, E(other.error()))) {}

  bool ok() const { return m_data.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; only when !ok().
  const E& error() const {
    if (ok())
      die("error() of a Result that holds a value");
    return std::get<1>(m_data);
  }

  // The value, or throw the error (labctl's Error: FatalError; a util Failure: FailureError).
  T take() && {
    if (!ok())
      throw_error(std::get<1>(m_data));
    return std::move(std::get<0>(m_data));
  }

private:
  using Data = std::variant<T, E>;

  T& checked() {
    if (!ok())
      die(("value() of an error Result: " + std::get<1>(m_data).message).c_str());
    return std::get<0>(m_data);
  }
  [[noreturn]] static void die(const char* what) {
    std::fprintf(stderr, "labctl: internal error: %s\n", what);
    std::abort();
  }

  Data m_data;
};

struct Unit {};
using Status = Result<Unit>;
// For `return ok_status();` in a function returning a Status of any error kind.
inline Unit ok_status() {
  return Unit{};
}

} // namespace labctl::util
