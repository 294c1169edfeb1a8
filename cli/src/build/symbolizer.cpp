#include "build/symbolizer.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>

namespace labctl {

namespace fs = std::filesystem;

namespace {

// No search path for separate debug files: a .ko built here carries its own DWARF, and a
// debug vmlinux is the debug file itself.
char* k_no_debuginfo_path = nullptr;

const Dwfl_Callbacks k_offline_callbacks = {
    .find_elf = nullptr,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &k_no_debuginfo_path,
};

struct DwflDeleter {
  void operator()(Dwfl* dwfl) const { dwfl_end(dwfl); }
};

// A symbol's address in the object's layout and its size.
struct Symbol {
  Dwarf_Addr address = 0;
  uint64_t size = 0;
};

// One object opened: its Dwfl, its one module and its function symbols by name.
struct OpenObject {
  std::unique_ptr<Dwfl, DwflDeleter> dwfl;
  Dwfl_Module* module = nullptr;
  std::multimap<std::string, Symbol> symbols;
  bool has_dwarf = false;
};

const char* die_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  for (int name : {DW_AT_name, DW_AT_linkage_name})
    if (const char* s = dwarf_formstring(dwarf_attr_integrate(die, name, &attr)))
      return s;
  return nullptr;
}

// The file name `index` of a CU's file table (an inlined call's DW_AT_call_file).
std::string cu_file(Dwarf_Die* cu, Dwarf_Word index) {
  Dwarf_Files* files = nullptr;
  size_t count = 0;
  if (dwarf_getsrcfiles(cu, &files, &count) != 0 || index >= count)
    return {};
  const char* name = dwarf_filesrc(files, index, nullptr, nullptr);
  return name ? name : "";
}

// Inlined calls deeper than this are cut (malformed DWARF could loop).
constexpr int k_max_inline_depth = 64;

bool is_function(Dwarf_Die* die) {
  int tag = dwarf_tag(die);
  return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine;
}

int attr_int(Dwarf_Die* die, int name) {
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  if (dwarf_formudata(dwarf_attr(die, name, &attr), &value) != 0)
    return 0;
  return static_cast<int>(std::min<Dwarf_Word>(value, 1u << 30));
}

} // namespace

struct Symbolizer::State {
  std::vector<DebugObject> objects;
  std::map<size_t, std::optional<OpenObject>> open; // by index in objects; nullopt: failed
  std::vector<std::string> problems;

  void problem(std::string text) {
    if (std::find(problems.begin(), problems.end(), text) == problems.end()) {
      spdlog::debug("symbolizer: {}", text);
      problems.push_back(std::move(text));
    }
  }

  OpenObject* object_for(const std::string& module) {
    auto it = std::find_if(objects.begin(), objects.end(),
                           [&](const DebugObject& o) { return o.module == module; });
    if (it == objects.end())
      return nullptr;
    size_t index = static_cast<size_t>(it - objects.begin());
    auto [slot, added] = open.try_emplace(index);
    if (added)
      slot->second = load(*it);
    return slot->second ? &*slot->second : nullptr;
  }

  std::optional<OpenObject> load(const DebugObject& object) {
    OpenObject o;
    o.dwfl.reset(dwfl_begin(&k_offline_callbacks));
    if (!o.dwfl) {
      problem(fmt::format("libdwfl: {}", dwfl_errmsg(-1)));
      return std::nullopt;
    }
    std::string name = object.module.empty() ? "vmlinux" : object.module;
    o.module = dwfl_report_offline(o.dwfl.get(), name.c_str(), object.file.c_str(), -1);
    dwfl_report_end(o.dwfl.get(), nullptr, nullptr);
    if (!o.module) {
      problem(fmt::format("cannot read {}: {}", object.file.string(), dwfl_errmsg(-1)));
      return std::nullopt;
    }
    Dwarf_Addr bias = 0;
    o.has_dwarf = dwfl_module_getdwarf(o.module, &bias) != nullptr;
    if (!o.has_dwarf)
      problem(fmt::format("{} has no debug info (DWARF): its frames keep no source lines",
                          object.file.string()));
    int count = dwfl_module_getsymtab(o.module);
    for (int i = 0; i < count; ++i) {
      GElf_Sym sym;
      GElf_Addr address = 0;
      const char* symbol =
          dwfl_module_getsym_info(o.module, i, &sym, &address, nullptr, nullptr, nullptr);
      if (symbol && *symbol && GELF_ST_TYPE(sym.st_info) == STT_FUNC)
        o.symbols.emplace(symbol, Symbol{address, sym.st_size});
    }
    return o;
  }

  std::string shown_file(const DebugObject& object, Dwarf_Die* cu, std::string file) {
    if (file.empty())
      return file;
    if (!fs::path(file).is_absolute()) {
      Dwarf_Attribute attr;
      if (const char* dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr)))
        file = (fs::path(dir) / file).lexically_normal().string();
    }
    return object.map_path ? object.map_path(file) : file;
  }

  std::vector<SourceLocation> resolve(const StackFrame& frame) {
    OpenObject* o = object_for(frame.module);
    if (!o || !o->has_dwarf)
      return {};
    const DebugObject& object =
        *std::find_if(objects.begin(), objects.end(),
                      [&](const DebugObject& d) { return d.module == frame.module; });
    // A local symbol may exist more than once (static functions of the same name in two
    // files); the printed length tells them apart where it is the symbol's size (kallsyms
    // prints the distance to the next symbol, which may include padding: then the first).
    auto [first, last] = o->symbols.equal_range(frame.function);
    auto symbol =
        std::find_if(first, last, [&](const auto& s) { return s.second.size == frame.size; });
    if (symbol == last)
      symbol = first;
    // An offset past the symbol's end is not in it (at its end: a call that never returns
    // was its last instruction). Symbols of assembly may have no size; the frame has one.
    uint64_t bound = symbol != last && symbol->second.size ? symbol->second.size : frame.size;
    if (symbol == last || (bound > 0 && frame.offset > bound)) {
      problem(fmt::format("{}: no function {} of that size in {}", frame.text, frame.function,
                          object.file.string()));
      return {};
    }
    Dwarf_Addr address = symbol->second.address + frame.offset;
    if (!frame.exact && frame.offset > 0)
      --address;

    Dwarf_Addr bias = 0;
    Dwarf_Die* cu = dwfl_module_addrdie(o->module, address, &bias);
    if (!cu)
      return {};
    std::string file;
    int line = 0, column = 0;
    if (Dwfl_Line* l = dwfl_module_getsrc(o->module, address))
      if (const char* src = dwfl_lineinfo(l, nullptr, &line, &column, nullptr, nullptr))
        file = src;

    std::vector<SourceLocation> chain;
    Dwarf_Die* scopes = nullptr;
    int count = dwarf_getscopes(cu, address - bias, &scopes);
    std::optional<Dwarf_Die> function;
    for (int i = 0; i < count && !function; ++i)
      if (is_function(&scopes[i]))
        function = scopes[i];
    free(scopes);
    // Up the inlined calls: each inlined instance's own containing scopes (dwarf_getscopes
    // follows an inlined instance with its abstract definition, not with its caller).
    for (int depth = 0; function && depth < k_max_inline_depth; ++depth) {
      const char* name = die_name(&*function);
      chain.push_back({name ? name : frame.function, shown_file(object, cu, file), line, column});
      if (dwarf_tag(&*function) != DW_TAG_inlined_subroutine)
        break;
      Dwarf_Attribute attr;
      Dwarf_Word index = 0;
      file = dwarf_formudata(dwarf_attr(&*function, DW_AT_call_file, &attr), &index) == 0
                 ? cu_file(cu, index)
                 : std::string();
      line = attr_int(&*function, DW_AT_call_line);
      column = attr_int(&*function, DW_AT_call_column);
      Dwarf_Die* parents = nullptr;
      int n = dwarf_getscopes_die(&*function, &parents);
      function.reset();
      for (int i = 1; i < n && !function; ++i) // [0] is the inlined instance itself
        if (is_function(&parents[i]))
          function = parents[i];
      free(parents);
    }
    if (chain.empty() && line > 0)
      chain.push_back({frame.function, shown_file(object, cu, file), line, column});
    if (chain.empty())
      problem(fmt::format("{}: no source line in {}", frame.text, object.file.string()));
    return chain;
  }
};

Symbolizer::Symbolizer(std::vector<DebugObject> objects) : m_state(std::make_unique<State>()) {
  m_state->objects = std::move(objects);
}
Symbolizer::~Symbolizer() = default;
Symbolizer::Symbolizer(Symbolizer&&) noexcept = default;
Symbolizer& Symbolizer::operator=(Symbolizer&&) noexcept = default;

std::vector<SourceLocation> Symbolizer::resolve(const StackFrame& frame) {
  return m_state->resolve(frame);
}

const std::vector<std::string>& Symbolizer::problems() const {
  return m_state->problems;
}

} // namespace labctl
