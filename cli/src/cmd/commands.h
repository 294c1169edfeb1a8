#pragma once

#include "config/profile.h"
#include "util/log.h"

#include <filesystem>
#include <string>
#include <vector>

namespace labctl {

// Options every subcommand understands.
struct GlobalOptions {
  Verbosity verbosity = Verbosity::normal;
  std::string profile = "default"; // a name (./configs, ~/.config/labctl, installed) or a file
  std::string kernel;              // overrides the profile's kernel image
};

// The file --profile names (docs/profile.md, "Where profiles are found"); fatal when none.
ProfileLocation selected_profile_location(const GlobalOptions& global);
// The profile named by the options, with --kernel applied; fatal on bad input.
Profile load_selected_profile(const GlobalOptions& global);

int command_doctor(const GlobalOptions& global);

struct BuildOptions {
  std::string module_dir;
  std::vector<std::string> with; // folders built first whose Module.symvers it links against
};
int command_build(const GlobalOptions& global, const BuildOptions& options);

struct InitrdOptions {
  std::string scenario;             // optional: take modules and files from a scenario
  std::vector<std::string> modules; // module folders
  std::string output;
  bool list = false; // print the file list
};
int command_initrd(const GlobalOptions& global, const InitrdOptions& options);

struct RunOptions {
  std::vector<std::string> scenarios;
  int jobs = 0; // 0: number of CPUs
  std::string artifacts;
  std::string junit;
  std::string json;
  bool fail_fast = false;  // stop handing out scenarios after the first failure
  bool keep_going = false; // the default; accepted for scripts written when it was not
  std::string shard;       // K/N
  bool gdb = false;        // GDB stub, gdb.script; implies one VM at a time
  bool gdb_wait = false;   // halt after module load until gdb continues
  std::string trace;       // QEMU trace pattern(s); "help" lists the events
  // A shell in the failed guest before teardown; needs a terminal, one VM at a time.
  bool shell_on_failure = false;
};
int command_run(const GlobalOptions& global, const RunOptions& options);

struct ShellOptions {
  std::string scenario;
  std::vector<std::string> modules;
  std::string artifacts;
  bool gdb = false;
  bool gdb_wait = false;
  std::string trace;
};
int command_shell(const GlobalOptions& global, const ShellOptions& options);

struct ListOptions {
  std::string dir;
  bool profiles = false; // list the profile names and their files instead
};
int command_list(const GlobalOptions& global, const ListOptions& options);

struct NewOptions {
  std::string name; // the module's name: a C identifier
  std::string dir;  // default: ./NAME
};
int command_new(const GlobalOptions& global, const NewOptions& options);
// The folder `labctl new` copies (data_dir()/templates/module) and its files, relative to it,
// sorted; "@NAME@" in a name or a file's text becomes the module's name.
std::filesystem::path module_template_dir();
std::vector<std::filesystem::path> module_template_files();

// `--trace help`: print the trace events the profile's QEMU knows.
int command_trace_help(const GlobalOptions& global);

} // namespace labctl
