#include "config/scenario.h"

#include "guest/fault_scanner.h"
#include "image/guest_image.h"
#include "image/init_script.h"
#include "image/module_deps.h"
#include "util/fs.h"
#include "util/json_document.h"
#include "util/regex.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

namespace labctl {

namespace {

constexpr int k_max_timeout = 24 * 3600; // seconds; longer is surely a typo

fs::path relative_to_file(const fs::path& scenario_file, const std::string& p) {
  fs::path path(p);
  return path.is_absolute() ? path : scenario_file.parent_path() / path;
}

// A key's value, failing unless it has the type `is` checks; nullptr when absent.
template <typename Check>
const Json* typed_value(JsonObjectReader& r, const std::string& key, Check is,
                        const char* expected) {
  const Json* v = r.value(key);
  if (v && !is(*v))
    r.fail(key, fmt::format("expected {}, got {}", expected, json_type_name(*v)));
  return v;
}

// An array of strings; each entry is handed to `check` with its pointer.
template <typename Check>
std::vector<std::string> string_array(JsonObjectReader& r, const std::string& key, Check check) {
  const Json* v = typed_value(
      r, key, [](const Json& j) { return j.is_array(); }, "an array of strings");
  std::vector<std::string> out;
  if (!v)
    return out;
  for (size_t i = 0; i < v->size(); ++i) {
    JsonPointer at = r.pointer(key) / i;
    const Json& item = (*v)[i];
    if (!item.is_string())
      json_fail(r.document(), at,
                fmt::format("key '{}': entry {}: expected a string, got {}", key, i + 1,
                            json_type_name(item)));
    out.push_back(item.get<std::string>());
    check(at, out.back());
  }
  return out;
}

int positive_seconds(JsonObjectReader& r, const std::string& key, int fallback) {
  auto v = r.integer(key);
  if (!v)
    return fallback;
  if (*v < 1 || *v > k_max_timeout)
    r.fail(key, fmt::format("{} is not a number of seconds between 1 and {}", *v, k_max_timeout));
  return static_cast<int>(*v);
}

void check_regex(const JsonDocument& doc, const JsonPointer& at, const std::string& key,
                 const std::string& pattern) {
  auto re = Regex::compile(pattern);
  if (!re)
    json_fail(doc, at,
              fmt::format("key '{}': bad regex /{}/: {}", key, pattern, re.error().message));
}

std::optional<std::string> regex_key(JsonObjectReader& r, const std::string& key) {
  auto v = r.string(key);
  if (v)
    check_regex(r.document(), r.pointer(key), key, *v);
  return v;
}

ScenarioModule read_module(const JsonDocument& doc, const Scenario& s, const JsonPointer& at,
                           size_t index) {
  const Json& entry = doc.root()[at];
  std::string where = fmt::format("key 'modules': entry {}", index + 1);
  std::string path;
  ScenarioModule module;
  if (entry.is_string()) {
    path = entry.get<std::string>();
  } else if (entry.is_object()) {
    JsonObjectReader m(doc, at);
    auto p = m.string("path");
    if (const Json* params = m.value("params"); params && params->is_object()) {
      module.params_per_module = true;
      JsonObjectReader by_name(doc, m.pointer("params"));
      for (const auto& [name, value] : params->items()) {
        if (!value.is_string())
          by_name.fail(name, fmt::format("expected a string (the module's insmod "
                                         "parameters), got {}",
                                         json_type_name(value)));
        std::string text = value.get<std::string>();
        // Split now as init will, so an unterminated quote is refused with its line.
        if (auto words = split_module_params(text); !words)
          by_name.fail(name, words.error().message);
        module.module_params.push_back(
            {name, text, fmt::format("{}: key '{}'", doc.where(m.pointer("params") / name), name)});
      }
    } else if (params && !params->is_string()) {
      m.fail("params", fmt::format("expected a string or an object keyed by module name, got {}",
                                   json_type_name(*params)));
    } else if (params) {
      module.params = params->get<std::string>();
      if (auto words = split_module_params(module.params); !words)
        m.fail("params", words.error().message);
      module.params_where = fmt::format("{}: key 'params'", doc.where(m.pointer("params")));
    }
    if (const Json* load = m.value("load")) {
      if (load->is_boolean()) {
        if (!load->get<bool>())
          module.load.emplace();
      } else if (load->is_array()) {
        module.load.emplace();
        for (size_t i = 0; i < load->size(); ++i) {
          JsonPointer item_at = m.pointer("load") / i;
          const Json& item = (*load)[i];
          std::string entry = fmt::format("key 'load': entry {}", i + 1);
          if (!item.is_string())
            json_fail(
                doc, item_at,
                fmt::format("{}: expected a module name, got {}", entry, json_type_name(item)));
          std::string name = item.get<std::string>();
          for (const auto& earlier : *module.load)
            if (module_name(earlier.name) == module_name(name))
              json_fail(doc, item_at,
                        fmt::format("{}: module '{}' is already in the list", entry, name));
          module.load->push_back({name, "", fmt::format("{}: {}", doc.where(item_at), entry)});
        }
      } else {
        m.fail("load", fmt::format("expected false, true or an array of module names, got {}",
                                   json_type_name(*load)));
      }
    }
    m.finish();
    if (!p)
      json_fail(doc, at, fmt::format("{}: key 'path' missing (the module's folder)", where));
    path = *p;
  } else {
    json_fail(doc, at,
              fmt::format("{}: expected a folder path or {{\"path\": ..., \"params\": ..., "
                          "\"load\": ...}}, "
                          "got {}",
                          where, json_type_name(entry)));
  }
  if (path.empty())
    json_fail(doc, at, fmt::format("{}: the module folder path is empty", where));
  module.dir = relative_to_file(s.file, path);
  std::error_code ec;
  if (!fs::is_directory(module.dir, ec))
    json_fail(doc, at, fmt::format("{}: module folder {} not found", where, module.dir.string()));
  if (!is_module_folder(module.dir))
    json_fail(
        doc, at,
        fmt::format(
            "{}: {} has no Kbuild, Makefile or dkms.conf, so it is not a kernel module folder",
            where, module.dir.string()));
  return module;
}

void read_modules(JsonObjectReader& r, Scenario& s) {
  const Json* v = typed_value(
      r, "modules", [](const Json& j) { return j.is_array(); }, "an array");
  if (!v)
    return;
  for (size_t i = 0; i < v->size(); ++i)
    s.modules.push_back(read_module(r.document(), s, r.pointer("modules") / i, i));
}

// Why a guest path cannot be used, or empty.
std::string guest_path_problem(const std::string& guest) {
  if (guest.empty() || guest[0] != '/')
    return "must be absolute (start with /)";
  if (guest == "/" || guest.back() == '/')
    return "must name a file, not end in /";
  if (guest.find('\0') != std::string::npos)
    return "must not contain a NUL byte";
  for (const auto& part : fs::path(guest))
    if (part == "..")
      return "must not contain ..";
  return {};
}

void read_files(JsonObjectReader& r, Scenario& s) {
  const Json* v = typed_value(
      r, "files", [](const Json& j) { return j.is_object(); },
      "an object mapping guest paths to host files");
  if (!v)
    return;
  const JsonDocument& doc = r.document();
  for (const auto& [guest, host] : v->items()) {
    JsonPointer at = r.pointer("files") / guest;
    if (std::string problem = guest_path_problem(guest); !problem.empty())
      json_fail(doc, at, fmt::format("key 'files': guest path '{}' {}", guest, problem));
    // "/a/./b", "/a//b", "/TRAILER!!!", "/init", "/tmp/x": refused here with the line, not
    // when the initrd is packed.
    if (std::string problem = scenario_file_path_problem(guest); !problem.empty())
      json_fail(doc, at, fmt::format("key 'files': {}", problem));
    if (!host.is_string() || host.get<std::string>().empty())
      json_fail(doc, at,
                fmt::format("key 'files': '{}' must map to a host file path, got {}", guest,
                            host.is_string() ? "an empty string" : json_type_name(host)));
    fs::path source = relative_to_file(s.file, host.get<std::string>());
    std::error_code ec;
    if (!fs::is_regular_file(source, ec))
      json_fail(doc, at,
                fmt::format("key 'files': source for '{}' not found: {} is not a file", guest,
                            source.string()));
    s.files.emplace(guest, source);
  }
}

constexpr auto k_guest_ends = std::to_array({GuestEnd::panic, GuestEnd::poweroff, GuestEnd::reset});

std::optional<GuestEnd> read_guest_end(JsonObjectReader& r) {
  auto v = r.string("ends_guest");
  if (!v)
    return std::nullopt;
  for (GuestEnd end : k_guest_ends)
    if (*v == to_string(end))
      return end;
  r.fail("ends_guest", fmt::format("'{}' is not \"panic\", \"poweroff\" or \"reset\"", *v));
}

Step read_step(const JsonDocument& doc, const JsonPointer& at) {
  Step step;
  step.line = doc.line_of(at);
  JsonObjectReader r(doc, at);
  auto run = r.string("run");
  step.ends_guest = read_guest_end(r);
  if (step.ends_guest)
    // The step never answers: nothing of what it would have returned can be compared.
    for (const char* key : {"exit", "stdout", "stderr", "stdout_regex", "stderr_regex"})
      if (r.has(key))
        r.fail(key, fmt::format("a step that ends the guest (\"ends_guest\": \"{}\") returns "
                                "nothing to compare",
                                to_string(*step.ends_guest)));
  if (auto exit = r.integer("exit")) {
    if (*exit < 0 || *exit > 255)
      r.fail("exit", fmt::format("{} is not an exit code (0 to 255)", *exit));
    step.exit_code = static_cast<int>(*exit);
  }
  step.expected_stdout = r.string("stdout");
  step.expected_stderr = r.string("stderr");
  step.stdout_regex = regex_key(r, "stdout_regex");
  step.stderr_regex = regex_key(r, "stderr_regex");
  step.timeout = positive_seconds(r, "timeout", step.timeout);
  r.finish();
  if (!run)
    json_fail(doc, at, "key 'run': missing (the shell command to run in the guest)");
  if (run->empty())
    r.fail("run", "the command is empty");
  step.run = *run;
  return step;
}

void read_steps(JsonObjectReader& r, Scenario& s) {
  const Json* v = typed_value(
      r, "steps", [](const Json& j) { return j.is_array(); }, "an array of steps");
  if (!v)
    return;
  for (size_t i = 0; i < v->size(); ++i) {
    JsonPointer at = r.pointer("steps") / i;
    if (!(*v)[i].is_object())
      json_fail(r.document(), at,
                fmt::format("key 'steps': entry {}: expected an object like {{\"run\": ...}}, "
                            "got {}",
                            i + 1, json_type_name((*v)[i])));
    if (!s.steps.empty() && s.steps.back().ends_guest)
      json_fail(r.document(), at,
                fmt::format("key 'steps': entry {}: step {} (line {}) ends the guest "
                            "(\"ends_guest\": \"{}\"), so no step can follow it",
                            i + 1, i, s.steps.back().line, to_string(*s.steps.back().ends_guest)));
    s.steps.push_back(read_step(r.document(), at));
  }
}

ExpectedDebugcon read_debugcon(JsonObjectReader& e, const Json& value, const Scenario& s) {
  const Json* v = &value;
  const JsonDocument& doc = e.document();
  ExpectedDebugcon expected;
  if (v->is_string()) {
    if (v->get<std::string>().empty())
      e.fail("debugcon", "the expected-output file path is empty");
    expected.file = relative_to_file(s.file, v->get<std::string>());
    std::error_code ec;
    if (!fs::is_regular_file(expected.file, ec))
      e.fail("debugcon", fmt::format("expected-output file {} not found", expected.file.string()));
    auto bytes = read_file(expected.file);
    if (!bytes)
      e.fail("debugcon", bytes.error().message);
    expected.bytes = std::move(*bytes);
    expected.label = expected.file.string();
    return expected;
  }
  if (!v->is_object())
    e.fail("debugcon",
           fmt::format("expected a file path or {{\"text\": ...}}, got {}", json_type_name(*v)));
  JsonObjectReader t(doc, e.pointer("debugcon"));
  auto text = t.string("text");
  t.finish();
  if (!text)
    e.fail("debugcon", "key 'text' missing (the expected bytes, or give a file path instead)");
  expected.bytes = *text;
  expected.label = fmt::format("{} (expect.debugcon.text)", doc.where(e.pointer("debugcon")));
  return expected;
}

void check_fault_kind(const JsonDocument& doc, const JsonPointer& at, const std::string& kind) {
  if (is_fault_kind(kind))
    return;
  std::string known;
  for (auto k : k_fault_kinds)
    known += fmt::format("{}{}", known.empty() ? "" : ", ", k);
  json_fail(doc, at,
            fmt::format("key 'faults': '{}' is not a fault kind (known kinds: {})", kind, known));
}

// A QEMU trace event name or glob pattern ("memory_region_ops_*"), as -trace enable= takes.
void check_trace_pattern(const JsonDocument& doc, const JsonPointer& at,
                         const std::string& pattern) {
  bool ok = !pattern.empty() && pattern.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                          "0123456789_*?") == std::string::npos;
  if (!ok)
    json_fail(doc, at,
              fmt::format("key 'trace': '{}' is not a QEMU trace event name or pattern "
                          "(letters, digits, _, * and ?; 'labctl run --trace help' lists them)",
                          pattern));
}

TraceExpectation read_trace_expectation(const JsonDocument& doc, const JsonPointer& at,
                                        size_t index) {
  if (!doc.root()[at].is_object())
    json_fail(doc, at,
              fmt::format("key 'trace': entry {}: expected an object like {{\"regex\": ..., "
                          "\"count\": ...}}, got {}",
                          index + 1, json_type_name(doc.root()[at])));
  TraceExpectation t;
  t.line = doc.line_of(at);
  JsonObjectReader r(doc, at);
  auto regex = regex_key(r, "regex");
  if (const Json* count = r.value("count")) {
    if (count->is_string() && count->get<std::string>() == "debugcon_bytes")
      t.count_debugcon_bytes = true;
    else if (count->is_number_integer() && count->get<int64_t>() >= 0)
      t.count = count->get<int64_t>();
    else
      r.fail("count", fmt::format("expected a number of lines (0 or more) or "
                                  "\"debugcon_bytes\", got {}",
                                  count->dump()));
  }
  r.finish();
  if (!regex)
    json_fail(doc, at, "key 'regex': missing (the trace lines to count)");
  t.regex = *regex;
  return t;
}

void read_trace_expectations(JsonObjectReader& e, Scenario& s) {
  const Json* v = typed_value(
      e, "trace", [](const Json& j) { return j.is_array(); }, "an array of {\"regex\", \"count\"}");
  if (!v)
    return;
  for (size_t i = 0; i < v->size(); ++i)
    s.expect.trace.push_back(read_trace_expectation(e.document(), e.pointer("trace") / i, i));
  if (!s.expect.trace.empty() && s.trace.empty())
    e.fail("trace", "expectations on the trace need events to trace: add a top-level "
                    "\"trace\": [\"event_name\", ...]");
}

void read_expect(JsonObjectReader& r, Scenario& s) {
  if (!typed_value(
          r, "expect", [](const Json& j) { return j.is_object(); }, "an object"))
    return;
  const JsonDocument& doc = r.document();
  JsonObjectReader e(doc, r.pointer("expect"));
  if (const Json* debugcon = e.value("debugcon"))
    s.expect.debugcon = read_debugcon(e, *debugcon, s);
  s.expect.kernel_log = string_array(e, "kernel_log", [&](const JsonPointer& at, const auto& p) {
    check_regex(doc, at, "kernel_log", p);
  });
  s.expect.kernel_log_absent =
      string_array(e, "kernel_log_absent", [&](const JsonPointer& at, const auto& p) {
        check_regex(doc, at, "kernel_log_absent", p);
      });
  s.expect.faults = string_array(e, "faults", [&](const JsonPointer& at, const auto& kind) {
    check_fault_kind(doc, at, kind);
  });
  read_trace_expectations(e, s);
  e.finish();
}

void read_kernels(JsonObjectReader& r, Scenario& s) {
  const Json* v = r.value("kernels");
  if (!v)
    return;
  util::Result<KernelFilter> filter = util::Failure{};
  if (v->is_string())
    filter = KernelFilter::constraints(v->get<std::string>());
  else if (v->is_array() &&
           std::all_of(v->begin(), v->end(), [](const Json& k) { return k.is_string(); }))
    filter = KernelFilter::releases(v->get<std::vector<std::string>>());
  else
    r.fail("kernels", fmt::format("expected a version constraint such as \">=6.4\" or an array "
                                  "of kernel releases, got {}",
                                  json_type_name(*v)));
  if (!filter)
    r.fail("kernels", filter.error().message);
  s.kernels = *filter;
}

} // namespace

std::string_view to_string(GuestEnd end) {
  switch (end) {
  case GuestEnd::panic:
    return "panic";
  case GuestEnd::poweroff:
    return "poweroff";
  case GuestEnd::reset:
    return "reset";
  }
  return "?";
}

std::string skip_reason(const Scenario& scenario, const std::string& release) {
  if (!scenario.kernels || scenario.kernels->applies_to(release))
    return "";
  return fmt::format("kernels {} excludes {}", scenario.kernels->describe(), release);
}

Result<Scenario> load_scenario(const fs::path& file) {
  auto text = read_file(file);
  if (!text)
    return bad_input(text.error());
  return parse_scenario(*text, file);
}

Result<Scenario> parse_scenario(const std::string& text, const fs::path& file) {
  auto doc = JsonDocument::parse(text, file.string());
  if (!doc)
    return bad_input(doc.error());
  Scenario s;
  s.file = file;
  s.name = file.stem().string();
  // The name is also a folder under the artifacts root: "...json" must not give "..".
  if (s.name.empty() || s.name == "." || s.name == "..")
    s.name = file.filename().string();
  try {
    JsonObjectReader r(*doc, JsonPointer());
    if (const Json* version = r.value("version");
        version && !(version->is_number_integer() && version->get<int64_t>() == 1))
      r.fail("version",
             fmt::format("{} is not supported; this labctl reads version 1", version->dump()));
    if (auto description = r.string("description"))
      s.description = *description;
    read_modules(r, s);
    read_files(r, s);
    s.timeout = positive_seconds(r, "timeout", s.timeout);
    if (auto warnings = r.string("warnings")) {
      if (*warnings != "error" && *warnings != "show")
        r.fail("warnings", fmt::format("'{}' is not \"show\" or \"error\"", *warnings));
      s.warnings_are_errors = *warnings == "error";
    }
    read_steps(r, s);
    // The charset is checked here; whether QEMU knows the events, once the profile's QEMU
    // is known (check_trace_patterns).
    s.trace = string_array(r, "trace", [&](const JsonPointer& at, const auto& pattern) {
      check_trace_pattern(*doc, at, pattern);
      s.trace_lines.push_back(doc->line_of(at));
    });
    read_expect(r, s);
    read_kernels(r, s);
    r.finish();
  } catch (const JsonInvalid& e) {
    return bad_input(e.what());
  }
  return s;
}

Result<std::vector<fs::path>> expand_scenario_args(const std::vector<std::string>& args) {
  if (args.empty())
    return bad_input("no scenario given (name scenario files or folders of them)");
  std::vector<fs::path> out;
  std::set<fs::path> seen;
  auto add = [&](const fs::path& p) {
    if (seen.insert(p.lexically_normal()).second)
      out.push_back(p);
  };
  for (const auto& arg : args) {
    fs::path p(arg);
    std::error_code ec;
    auto status = fs::status(p, ec);
    if (!fs::exists(status))
      return bad_input(fmt::format("{}: no such scenario file or folder", arg));
    if (!fs::is_directory(status)) {
      add(p);
      continue;
    }
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(p, ec))
      if (entry.path().extension() == ".json" && entry.is_regular_file(ec))
        found.push_back(entry.path());
    if (ec)
      return bad_input(fmt::format("{}: {}", arg, ec.message()));
    if (found.empty())
      return bad_input(fmt::format("{}: no scenario files (*.json) in this folder", arg));
    std::sort(found.begin(), found.end());
    for (const auto& f : found)
      add(f);
  }
  return out;
}

} // namespace labctl
