#include "util/json_document.h"

#include "util/fs.h"

#include <fmt/format.h>

#include <algorithm>

namespace labctl {

namespace {

// A key given twice in one object: nlohmann keeps only the last value, so the first one
// would be dropped without a word.
struct DuplicateKey {
  std::string key;
  int line = 0;       // the second occurrence
  int first_line = 0; // the first
};

// Walks text that nlohmann already accepted, records the line of each value and finds the
// first key given twice in an object.
class LineScanner {
public:
  LineScanner(const std::string& text, std::map<std::string, int>& lines)
      : m_text(text), m_lines(lines) {}

  void run() {
    skip_space();
    value(JsonPointer());
  }

  const std::optional<DuplicateKey>& duplicate() const { return m_duplicate; }

private:
  void skip_space() {
    while (m_pos < m_text.size()) {
      char c = m_text[m_pos];
      if (c == '\n')
        ++m_line;
      else if (c != ' ' && c != '\t' && c != '\r')
        break;
      ++m_pos;
    }
  }

  std::string string_token() {
    std::string raw;
    size_t start = m_pos;
    ++m_pos; // opening quote
    while (m_pos < m_text.size() && m_text[m_pos] != '"') {
      if (m_text[m_pos] == '\\')
        ++m_pos;
      ++m_pos;
    }
    ++m_pos; // closing quote
    raw = m_text.substr(start, m_pos - start);
    return Json::parse(raw).get<std::string>();
  }

  void value(const JsonPointer& at) {
    m_lines.emplace(at.to_string(), m_line);
    if (m_pos >= m_text.size())
      return;
    char c = m_text[m_pos];
    if (c == '{') {
      ++m_pos;
      skip_space();
      std::map<std::string, int> keys; // key -> line, for this object only
      while (m_pos < m_text.size() && m_text[m_pos] != '}') {
        int key_line = m_line;
        std::string key = string_token();
        if (auto [it, fresh] = keys.emplace(key, key_line); !fresh && !m_duplicate)
          m_duplicate = DuplicateKey{key, key_line, it->second};
        skip_space();
        ++m_pos; // ':'
        skip_space();
        JsonPointer child = at / key;
        m_lines[child.to_string()] = key_line;
        value_at(child, key_line);
        skip_space();
        if (m_pos < m_text.size() && m_text[m_pos] == ',') {
          ++m_pos;
          skip_space();
        }
      }
      ++m_pos;
    } else if (c == '[') {
      ++m_pos;
      skip_space();
      size_t index = 0;
      while (m_pos < m_text.size() && m_text[m_pos] != ']') {
        value(at / index++);
        skip_space();
        if (m_pos < m_text.size() && m_text[m_pos] == ',') {
          ++m_pos;
          skip_space();
        }
      }
      ++m_pos;
    } else if (c == '"') {
      string_token();
    } else {
      while (m_pos < m_text.size() &&
             std::string_view(",]} \t\r\n").find(m_text[m_pos]) == std::string_view::npos)
        ++m_pos;
    }
  }

  // Like value(), but a key's line wins over the line its value starts on.
  void value_at(const JsonPointer& at, int key_line) {
    value(at);
    m_lines[at.to_string()] = key_line;
  }

  const std::string& m_text;
  std::map<std::string, int>& m_lines;
  std::optional<DuplicateKey> m_duplicate;
  size_t m_pos = 0;
  int m_line = 1;
};

// Deeper documents are refused before parsing: the line scanner recurses once per level
// and keeps a pointer per value, so depth would cost stack and quadratic memory.
constexpr int k_max_depth = 64;

// The line on which nesting first goes deeper than k_max_depth, or 0.
int too_deep_at(const std::string& text) {
  int depth = 0, line = 1;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n')
      ++line;
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > k_max_depth)
        return line;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return 0;
}

} // namespace

util::Result<JsonDocument> JsonDocument::load(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text)
    return text.error();
  return parse(*text, path.string());
}

util::Result<JsonDocument> JsonDocument::parse(const std::string& text, std::string name) {
  JsonDocument doc;
  doc.m_name = std::move(name);
  if (int line = too_deep_at(text))
    return util::Failure{fmt::format("{}:{}: invalid JSON: nested deeper than {} levels",
                                     doc.m_name, line, k_max_depth)};
  try {
    doc.m_root = Json::parse(text);
  } catch (const Json::parse_error& e) {
    size_t offset = std::min(e.byte > 0 ? e.byte - 1 : 0, text.size());
    int line = 1 + static_cast<int>(
                       std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n'));
    size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
    size_t column = line_start == std::string::npos ? offset + 1 : offset - line_start;
    std::string what = e.what();
    // nlohmann's text starts with "[json.exception.parse_error.101] parse error at line ...: "
    auto colon = what.find(": ", what.find("parse error"));
    std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
    return util::Failure{
        fmt::format("{}:{}:{}: invalid JSON: {}", doc.m_name, line, column, reason)};
  } catch (const Json::exception& e) {
    // Not a syntax error but a value nlohmann cannot hold, e.g. a number like 1e999.
    std::string what = e.what();
    auto bracket = what.find("] ");
    return util::Failure{
        fmt::format("{}: invalid JSON: {}", doc.m_name,
                    bracket == std::string::npos ? what : what.substr(bracket + 2))};
  }
  LineScanner scanner(text, doc.m_lines);
  scanner.run();
  if (const auto& dup = scanner.duplicate())
    return util::Failure{fmt::format("{}:{}: key '{}' given twice (first on line {}); JSON would "
                                     "keep only the last value",
                                     doc.m_name, dup->line, dup->key, dup->first_line)};
  return doc;
}

int JsonDocument::line_of(const JsonPointer& at) const {
  auto it = m_lines.find(at.to_string());
  return it == m_lines.end() ? 1 : it->second;
}

std::string JsonDocument::where(const JsonPointer& at) const {
  return fmt::format("{}:{}", m_name, line_of(at));
}

std::string json_type_name(const Json& value) {
  if (value.is_number())
    return "number";
  return value.type_name();
}

void json_fail(const JsonDocument& doc, const JsonPointer& at, const std::string& message) {
  throw JsonInvalid(fmt::format("{}: {}", doc.where(at), message));
}

JsonObjectReader::JsonObjectReader(const JsonDocument& doc, JsonPointer at)
    : m_doc(doc), m_at(std::move(at)), m_object(doc.root()[m_at]) {
  if (!m_object.is_object()) {
    std::string name = m_at.empty() ? "the document" : fmt::format("'{}'", m_at.back());
    json_fail(doc, m_at,
              fmt::format("{} must be an object, not {}", name, json_type_name(m_object)));
  }
}

bool JsonObjectReader::has(const std::string& key) const {
  return m_object.contains(key);
}

void JsonObjectReader::fail(const std::string& key, const std::string& problem) const {
  json_fail(m_doc, m_at / key, fmt::format("key '{}': {}", key, problem));
}

const Json* JsonObjectReader::value(const std::string& key) {
  m_known.push_back(key);
  auto it = m_object.find(key);
  return it == m_object.end() ? nullptr : &*it;
}

std::optional<std::string> JsonObjectReader::string(const std::string& key) {
  const Json* v = value(key);
  if (!v)
    return std::nullopt;
  if (!v->is_string())
    fail(key, fmt::format("expected a string, got {}", json_type_name(*v)));
  return v->get<std::string>();
}

std::optional<double> JsonObjectReader::number(const std::string& key) {
  const Json* v = value(key);
  if (!v)
    return std::nullopt;
  if (!v->is_number())
    fail(key, fmt::format("expected a number, got {}", json_type_name(*v)));
  return v->get<double>();
}

std::optional<int64_t> JsonObjectReader::integer(const std::string& key) {
  const Json* v = value(key);
  if (!v)
    return std::nullopt;
  if (!v->is_number_integer())
    fail(key, fmt::format("expected an integer, got {}", json_type_name(*v)));
  return v->get<int64_t>();
}

std::optional<bool> JsonObjectReader::boolean(const std::string& key) {
  const Json* v = value(key);
  if (!v)
    return std::nullopt;
  if (!v->is_boolean())
    fail(key, fmt::format("expected true or false, got {}", json_type_name(*v)));
  return v->get<bool>();
}

void JsonObjectReader::finish() const {
  for (const auto& [key, _] : m_object.items()) {
    if (std::find(m_known.begin(), m_known.end(), key) != m_known.end())
      continue;
    std::string known;
    for (const auto& k : m_known)
      known += (known.empty() ? "" : ", ") + k;
    fail(key, fmt::format("unknown key (known keys: {})", known));
  }
}

} // namespace labctl
