#include "image/init_script.h"

#include "util/shell_quote.h"

#include <fmt/format.h>

namespace labctl {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool has_space(std::string_view text) {
  for (char c : text)
    if (is_space(c))
      return true;
  return false;
}

bool is_module_name(std::string_view name) {
  if (name.empty())
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return false;
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

// Shell-like word splitting (quotes and backslashes, no expansions).
Result<std::vector<std::string>> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (is_space(c)) {
      if (in_word)
        words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      size_t end = text.find('\'', i + 1);
      if (end == std::string_view::npos)
        return bad_input(fmt::format("unterminated ' in module params \"{}\"", text));
      word.append(text.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size() && (text[j + 1] == '"' || text[j + 1] == '\\'))
          ++j;
        word += text[j];
      }
      if (j == text.size())
        return bad_input(fmt::format("unterminated \" in module params '{}'", text));
      i = j;
    } else if (c == '\\') {
      if (i + 1 == text.size())
        return bad_input(fmt::format("module params '{}' end in a backslash", text));
      word += text[++i];
    } else {
      word += c;
    }
  }
  if (in_word)
    words.push_back(std::move(word));
  return words;
}

} // namespace

Result<std::vector<std::string>> split_module_params(std::string_view params) {
  auto words = split_words(params);
  if (!words)
    return words.error();
  std::vector<std::string> args;
  for (auto& word : *words) {
    if (word.empty())
      continue;
    if (word.find('"') != std::string::npos)
      return bad_input(fmt::format(
          "module parameter '{}' contains a double quote, which the kernel cannot take", word));
    size_t eq = word.find('=');
    std::string_view name = std::string_view(word).substr(0, eq);
    if (name.empty() || has_space(name))
      return bad_input(fmt::format("'{}' is not a module parameter (name=value or name)", word));
    if (eq != std::string::npos && has_space(std::string_view(word).substr(eq + 1)))
      word = fmt::format("{}=\"{}\"", name, std::string_view(word).substr(eq + 1));
    args.push_back(std::move(word));
  }
  return args;
}

Result<std::string> render_init_script(std::string_view template_text,
                                       const std::vector<GuestModule>& modules) {
  std::string loads;
  for (const auto& module : modules) {
    if (!is_module_name(module.name))
      return bad_input(fmt::format(
          "module name '{}' may hold only letters, digits, '_', '-' and '.'", module.name));
    if (module.guest_path.empty() || module.guest_path.front() != '/')
      return bad_input(fmt::format("module '{}': guest path '{}' is not absolute", module.name,
                                   module.guest_path));
    auto params = split_module_params(module.params);
    if (!params)
      return bad_input(fmt::format("module '{}': {}", module.name, params.error().message));
    std::vector<std::string> argv{"labctl_load", module.name, module.guest_path};
    argv.insert(argv.end(), params->begin(), params->end());
    loads += shell_join(argv);
    loads += '\n';
  }
  if (modules.empty())
    loads = "# (no modules to load)\n";

  std::string out;
  int placeholders = 0;
  size_t pos = 0;
  while (pos < template_text.size()) {
    size_t end = template_text.find('\n', pos);
    size_t next = end == std::string_view::npos ? template_text.size() : end + 1;
    std::string_view line = template_text.substr(pos, next - pos);
    if (trim(line) == k_modules_placeholder) {
      ++placeholders;
      out += loads;
    } else {
      out += line;
    }
    pos = next;
  }
  if (placeholders != 1)
    return environment_error(
        fmt::format("the init template must have exactly one line '{}', it has {}",
                    k_modules_placeholder, placeholders));
  return out;
}

} // namespace labctl
