#include "cmd/app.h"

#include "cmd/commands.h"
#include "core/error.h"
#include "core/exit_code.h"
#include "util/interrupt.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

namespace labctl {

namespace {

constexpr const char* k_exit_codes = R"(Exit codes:
  0    all scenarios passed
  1    a scenario failed (step, expectation, debugcon diff, kernel fault, timeout,
       module did not compile or load)
  2    bad input (usage, invalid scenario or profile, missing file)
  3    environment (QEMU, kernel, headers or busybox missing or unusable)
  130  interrupted (SIGINT, SIGTERM, SIGHUP)

Run 'labctl doctor' to see what is missing.)";

constexpr const char* k_shell_keys = R"(Keys (when stdin is a terminal, which is then in raw mode):
  Ctrl-A x         leave: the VM is stopped, console.log kept in the artifacts
  Ctrl-A Ctrl-A    send one Ctrl-A to the guest
  Ctrl-A h         show these keys
  Everything else, Ctrl-C and Ctrl-Z included, goes to the guest's shell.
When stdin is not a terminal its bytes are sent as they are, then Ctrl-D at its end.
The session ends when the guest's shell exits, on Ctrl-A x, or when the guest powers off:
exit code 0 (the guest shell's own status is not passed on). 1 when a module does not
build, the guest does not boot or its kernel panics.

)";

constexpr const char* k_gdb_help = "Start QEMU's GDB stub on a unix socket only root can "
                                   "reach (never TCP; kernel booted with nokaslr) and write "
                                   "gdb.script with the socket and the modules' load "
                                   "addresses; no host timeouts after boot";
constexpr const char* k_gdb_wait_help = "Like --gdb, and halt the guest once its modules are "
                                        "loaded until gdb continues it";
constexpr const char* k_shell_on_failure_help =
    "When a scenario fails (a step, a module that does not load, a kernel fault it does not "
    "expect), keep its VM as it is and open a shell in the guest on this terminal (the keys "
    "of 'labctl shell': Ctrl-A x leaves); the run then finishes and reports as usual. Needs "
    "stdin to be a terminal; one VM at a time (-j 1)";
constexpr const char* k_trace_help = "Enable QEMU trace events matching PATTERN[,PATTERN...] "
                                     "into trace.log in the artifacts; 'help' lists the events";

// What `labctl new` creates, read from its templates (so --help cannot drift from them).
std::string new_footer() {
  std::string text = "Creates, in DIR (never overwriting a file: exit 2 naming it):\n";
  for (const auto& file : module_template_files())
    text += "  DIR/" + file.string() + "\n";
  if (module_template_files().empty())
    text += "  (no templates found in " + module_template_dir().string() + ")\n";
  return text + "with @NAME@ replaced by NAME: a Kbuild and a Makefile (KDIR ?= the running "
                "kernel's headers), a misc device /dev/NAME that keeps what is written to it, and "
                "a scenario that builds, loads, writes, reads and unloads it:\n"
                "  labctl run DIR/NAME.json\n\n";
}

} // namespace

int run_app(int argc, char** argv) {
  CLI::App app{"labctl: build a kernel module, boot it in QEMU, drive the guest and judge it"};
  app.footer(k_exit_codes);
  // LABCTL_GIT_REVISION: `git describe` when CMake configured the build, else "unknown".
  app.set_version_flag("--version", std::string("labctl ") + LABCTL_VERSION + " (revision " +
                                        LABCTL_GIT_REVISION + ")");
  app.require_subcommand(1);

  GlobalOptions global;
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "Debug log, including every spawned command line")
      ->configurable(false);
  app.add_flag("-q,--quiet", quiet, "Only warnings and errors");
  app.add_option("--profile", global.profile,
                 "Lab profile: a file, or a NAME found as NAME.json in ./configs, then "
                 "$XDG_CONFIG_HOME/labctl (~/.config/labctl), then the installed profiles")
      ->capture_default_str();
  app.add_option("--kernel", global.kernel,
                 "Kernel(s): all, auto, releases R1,R2 (every scenario on each), or an image path; "
                 "overrides the profile");
  app.fallthrough();

  auto* doctor = app.add_subcommand("doctor", "Check QEMU, kernel + headers, busybox, KVM; say "
                                              "what to install");

  BuildOptions build_opts;
  auto* build = app.add_subcommand("build", "Build one module against the profile's kernel and "
                                            "print the .ko path");
  build->add_option("MODULE_DIR", build_opts.module_dir, "Folder with Kbuild/Makefile")->required();
  build->add_option("--with", build_opts.with,
                    "Build this folder first and link against its Module.symvers (repeatable, "
                    "in order)");

  InitrdOptions initrd_opts;
  auto* initrd = app.add_subcommand("initrd", "Pack an initrd without booting");
  initrd->add_option("SCENARIO", initrd_opts.scenario, "Take modules and files from a scenario");
  initrd->add_option("-m,--module", initrd_opts.modules, "Module folder (repeatable)");
  initrd->add_option("-o,--output", initrd_opts.output, "Where to write the initrd")->required();
  initrd->add_flag("--list", initrd_opts.list, "Print the files it contains");

  RunOptions run_opts;
  auto* run = app.add_subcommand("run", "Boot scenarios and judge them");
  run->add_option("SCENARIO", run_opts.scenarios, "Scenario files");
  run->add_option("-j,--jobs", run_opts.jobs, "Parallel VMs; 0 (the default) is one per CPU");
  run->add_option("--artifacts", run_opts.artifacts, "Artifacts directory");
  run->add_option("--junit", run_opts.junit, "Write a JUnit XML report");
  run->add_option("--json", run_opts.json, "Write a JSON report");
  run->add_flag("--fail-fast,-x", run_opts.fail_fast,
                "Start no further scenario after the first failure (the other kernels of a "
                "scenario that started still run)");
  run->add_flag("--keep-going", run_opts.keep_going,
                "Run every scenario even after a failure (the default)")
      ->excludes("--fail-fast");
  run->add_option("--shard", run_opts.shard, "Run the K-th of N stable subsets (K/N, 1-based)");
  run->add_flag("--gdb", run_opts.gdb, k_gdb_help);
  run->add_flag("--gdb-wait", run_opts.gdb_wait, k_gdb_wait_help);
  run->add_option("--trace", run_opts.trace, k_trace_help)->type_name("PATTERN");
  run->add_flag("--shell-on-failure", run_opts.shell_on_failure, k_shell_on_failure_help);

  ShellOptions shell_opts;
  auto* shell = app.add_subcommand("shell", "Interactive shell on the guest, modules loaded");
  shell->add_option("SCENARIO", shell_opts.scenario, "Boot this scenario's modules");
  shell->add_option("-m,--module", shell_opts.modules, "Module folder (repeatable)");
  shell->add_option("--artifacts", shell_opts.artifacts, "Artifacts directory");
  shell->add_flag("--gdb", shell_opts.gdb, k_gdb_help);
  shell->add_flag("--gdb-wait", shell_opts.gdb_wait, k_gdb_wait_help);
  shell->add_option("--trace", shell_opts.trace, k_trace_help)->type_name("PATTERN");

  ListOptions list_opts;
  auto* list = app.add_subcommand("list", "List scenarios with their descriptions");
  list->add_option("DIR", list_opts.dir, "Folder of scenarios (default: the shipped ones)");
  list->add_flag("--profiles", list_opts.profiles,
                 "List the profile names --profile finds instead, with their files");

  NewOptions new_opts;
  auto* create = app.add_subcommand("new", "Start a module: a folder with its source and a "
                                           "scenario that builds, loads and exercises it");
  create->add_option("NAME", new_opts.name, "Module name (a C identifier)")->required();
  create->add_option("DIR", new_opts.dir, "Folder to create it in (default: ./NAME)");

  for (auto* sub : {doctor, build, initrd, run, shell, list, create})
    sub->footer(k_exit_codes);
  create->footer(new_footer() + k_exit_codes);
  shell->footer(std::string(k_shell_keys) + k_exit_codes);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : to_int(ExitCode::bad_input);
  }

  global.verbosity = verbose ? Verbosity::verbose : quiet ? Verbosity::quiet : Verbosity::normal;
  setup_logging(global.verbosity);
  install_interrupt_handlers();

  try {
    if (doctor->parsed())
      return command_doctor(global);
    if (build->parsed())
      return command_build(global, build_opts);
    if (initrd->parsed())
      return command_initrd(global, initrd_opts);
    if (run->parsed())
      return command_run(global, run_opts);
    if (shell->parsed())
      return command_shell(global, shell_opts);
    if (list->parsed())
      return command_list(global, list_opts);
    if (create->parsed())
      return command_new(global, new_opts);
  } catch (const FatalError& e) {
    spdlog::error("{}", e.error().message);
    if (interrupted())
      return to_int(ExitCode::interrupted);
    return to_int(e.error().code);
  } catch (const util::FailureError& e) { // util/ failing where it cannot return (TempDir)
    spdlog::error("{}", e.failure().message);
    return to_int(interrupted() ? ExitCode::interrupted : Error(e.failure()).code);
  }
  return to_int(ExitCode::bad_input);
}

} // namespace labctl
