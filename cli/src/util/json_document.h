#pragma once

#include "util/result.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace labctl {

using Json = nlohmann::json;
using JsonPointer = nlohmann::json::json_pointer;

// A parsed JSON file that remembers on which line every key and value starts, so that
// validation errors can say "file:line: key ...".
class JsonDocument {
public:
  // A parse error names file:line:column; a key given twice in one object names the line of
  // its second occurrence. The caller decides what such a failure is (labctl: bad input).
  static util::Result<JsonDocument> load(const std::filesystem::path& path);
  static util::Result<JsonDocument> parse(const std::string& text, std::string name);

  const Json& root() const { return m_root; }
  const std::string& name() const { return m_name; }
  // The line where the value at `at` (or its key) starts; 1 when unknown.
  int line_of(const JsonPointer& at) const;
  // "file:line" for messages.
  std::string where(const JsonPointer& at) const;

private:
  Json m_root;
  std::string m_name;
  std::map<std::string, int> m_lines; // JSON pointer string -> line
};

// What JsonObjectReader and json_fail throw to stop reading at the first problem, with the
// message "file:line: ...". It is the reading function's own: the function that reads a
// document catches it and returns the message as its error (labctl's loaders: bad input).
class JsonInvalid : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Reads one JSON object of a document with strict checking: each accessor throws
// JsonInvalid naming file:line and the key, and `finish` rejects unknown keys.
class JsonObjectReader {
public:
  JsonObjectReader(const JsonDocument& doc, JsonPointer at);

  bool has(const std::string& key) const;
  std::optional<std::string> string(const std::string& key);
  std::optional<double> number(const std::string& key);
  std::optional<int64_t> integer(const std::string& key);
  std::optional<bool> boolean(const std::string& key);
  // The raw value, for keys that accept several shapes; marks the key as known.
  const Json* value(const std::string& key);
  JsonPointer pointer(const std::string& key) const { return m_at / key; }
  const JsonDocument& document() const { return m_doc; }

  // Throws naming the first key that no accessor asked for.
  void finish() const;
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

private:
  const JsonDocument& m_doc;
  JsonPointer m_at;
  const Json& m_object;
  std::vector<std::string> m_known;
};

// The JSON type name used in messages ("string", "array", ...).
std::string json_type_name(const Json& value);

// Throw JsonInvalid "file:line: message" for the value at `at`.
[[noreturn]] void json_fail(const JsonDocument& doc, const JsonPointer& at,
                            const std::string& message);

} // namespace labctl
