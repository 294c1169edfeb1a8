#include "config/scenario.h"

#include "config/data_dir.h"
#include "guest/fault_scanner.h"
#include "image/guest_image.h"
#include "test_support.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>

namespace labctl {
namespace {

class ScenarioLoad : public ::testing::Test {
protected:
  void SetUp() override {
    m_dir.write("kmod/alpha/Kbuild", "obj-m := alpha.o\n");
    m_dir.write("kmod/beta/Makefile", "all:\n");
    m_dir.mkdir("kmod/empty");
    m_dir.write("s/files/probe.sh", "#!/bin/sh\necho probe\n");
    m_dir.write("s/dc.expected", "hello from Linux\n");
  }

  fs::path write(const std::string& text) { return m_dir.write("s/t.json", text); }
  Result<Scenario> load(const std::string& text) { return load_scenario(write(text)); }

  // The load fails as bad input with exactly "<file>:<line>: <message>".
  void expect_error(const std::string& text, int line, const std::string& message) {
    fs::path file = write(text);
    auto s = load_scenario(file);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.error().code, ExitCode::bad_input);
    EXPECT_EQ(s.error().message, fmt::format("{}:{}: {}", file.string(), line, message));
  }

  // The load fails as bad input at `line`, and the message contains `fragment`.
  void expect_error_containing(const std::string& text, int line, const std::string& fragment) {
    fs::path file = write(text);
    auto s = load_scenario(file);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.error().code, ExitCode::bad_input);
    EXPECT_EQ(s.error().message.rfind(fmt::format("{}:{}: ", file.string(), line), 0), 0u)
        << s.error().message;
    EXPECT_NE(s.error().message.find(fragment), std::string::npos) << s.error().message;
  }

  fs::path path(const std::string& relative) const { return m_dir.path() / relative; }

  test::ScratchDir m_dir;
};

TEST_F(ScenarioLoad, FullExampleFromTheDesign) {
  auto s = load(R"({
  "version": 1,
  "description": "echo into /dev/debugcon reaches the host",
  "modules": ["../kmod/alpha", {"path": "../kmod/beta", "params": "a=1 b=2"}],
  "files":   {"/usr/bin/probe.sh": "files/probe.sh"},
  "timeout": 120,
  "steps": [
    {"run": "echo 'hello from Linux' > /dev/debugcon"},
    {"run": "cat /dev/qemu_exercise", "stdout": "Hello from QEMU!"},
    {"run": "exec 3>/dev/debugcon; echo x > /dev/debugcon", "exit": 1,
     "stderr_regex": "busy", "timeout": 10},
    {"run": "x", "stderr": "oops", "stdout_regex": "^a$"}
  ],
  "expect": {
    "debugcon": "dc.expected",
    "kernel_log": ["QEMU Exercise: Received 12 characters from the user"],
    "kernel_log_absent": ["Oops"]
  }
})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->name, "t");
  EXPECT_EQ(s->file, path("s/t.json"));
  EXPECT_EQ(s->description, "echo into /dev/debugcon reaches the host");
  ASSERT_EQ(s->modules.size(), 2u);
  EXPECT_EQ(s->modules[0].dir, path("s/../kmod/alpha"));
  EXPECT_EQ(s->modules[0].params, "");
  EXPECT_EQ(s->modules[1].dir, path("s/../kmod/beta"));
  EXPECT_EQ(s->modules[1].params, "a=1 b=2");
  ASSERT_EQ(s->files.size(), 1u);
  EXPECT_EQ(s->files.at("/usr/bin/probe.sh"), path("s/files/probe.sh"));
  EXPECT_EQ(s->timeout, 120);

  ASSERT_EQ(s->steps.size(), 4u);
  const Step& first = s->steps[0];
  EXPECT_EQ(first.run, "echo 'hello from Linux' > /dev/debugcon");
  EXPECT_EQ(first.exit_code, 0);
  EXPECT_EQ(first.timeout, 60);
  EXPECT_EQ(first.line, 8);
  EXPECT_FALSE(first.expected_stdout || first.expected_stderr || first.stdout_regex ||
               first.stderr_regex);
  EXPECT_EQ(s->steps[1].expected_stdout, "Hello from QEMU!");
  EXPECT_EQ(s->steps[1].line, 9);
  EXPECT_EQ(s->steps[2].exit_code, 1);
  EXPECT_EQ(s->steps[2].stderr_regex, "busy");
  EXPECT_EQ(s->steps[2].timeout, 10);
  EXPECT_EQ(s->steps[2].line, 10);
  EXPECT_EQ(s->steps[3].expected_stderr, "oops");
  EXPECT_EQ(s->steps[3].stdout_regex, "^a$");
  EXPECT_EQ(s->steps[3].line, 12);

  ASSERT_TRUE(s->expect.debugcon);
  EXPECT_EQ(s->expect.debugcon->bytes, "hello from Linux\n");
  EXPECT_EQ(s->expect.debugcon->file, path("s/dc.expected"));
  EXPECT_EQ(s->expect.debugcon->label, path("s/dc.expected").string());
  EXPECT_EQ(s->expect.kernel_log,
            std::vector<std::string>{"QEMU Exercise: Received 12 characters from the user"});
  EXPECT_EQ(s->expect.kernel_log_absent, std::vector<std::string>{"Oops"});
  EXPECT_TRUE(s->expect.faults.empty());
}

TEST_F(ScenarioLoad, EmptyScenarioTakesDefaults) {
  auto s = load("{}");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->name, "t");
  EXPECT_EQ(s->timeout, 300);
  EXPECT_TRUE(s->modules.empty());
  EXPECT_TRUE(s->files.empty());
  EXPECT_TRUE(s->steps.empty());
  EXPECT_FALSE(s->expect.debugcon);
}

TEST_F(ScenarioLoad, EmptyStepListIsAllowed) {
  auto s = load(R"({"steps": [], "expect": {}})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->steps.empty());
}

TEST_F(ScenarioLoad, AbsolutePathsAreTakenAsTheyAre) {
  auto s = load(fmt::format(R"({{"modules": [{{"path": "{}"}}], "files": {{"/a": "{}"}},
                               "expect": {{"debugcon": "{}"}}}})",
                            path("kmod/alpha").string(), path("s/files/probe.sh").string(),
                            path("s/dc.expected").string()));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->modules[0].dir, path("kmod/alpha"));
  EXPECT_EQ(s->files.at("/a"), path("s/files/probe.sh"));
  EXPECT_EQ(s->expect.debugcon->file, path("s/dc.expected"));
}

TEST_F(ScenarioLoad, DebugconInlineText) {
  auto s = load("{\n  \"expect\": {\n    \"debugcon\": {\"text\": \"a\\u0000b\\n\"}\n  }\n}\n");
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(s->expect.debugcon);
  EXPECT_EQ(s->expect.debugcon->bytes, std::string("a\0b\n", 4));
  EXPECT_TRUE(s->expect.debugcon->file.empty());
  EXPECT_EQ(s->expect.debugcon->label, path("s/t.json").string() + ":3 (expect.debugcon.text)");
}

TEST_F(ScenarioLoad, ExpectedFaults) {
  auto s = load(R"({"expect": {"faults": ["oops", "warning"]}})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->expect.faults, (std::vector<std::string>{"oops", "warning"}));
}

TEST_F(ScenarioLoad, WarningsIsShowOrError) {
  auto shown = load(R"({"warnings": "show"})");
  ASSERT_TRUE(shown.ok()) << shown.error().message;
  EXPECT_FALSE(shown->warnings_are_errors);
  auto error = load(R"({"warnings": "error"})");
  ASSERT_TRUE(error.ok()) << error.error().message;
  EXPECT_TRUE(error->warnings_are_errors);
  EXPECT_FALSE(load("{}")->warnings_are_errors);
  expect_error("{\n  \"warnings\": \"werror\"\n}", 2,
               "key 'warnings': 'werror' is not \"show\" or \"error\"");
}

TEST_F(ScenarioLoad, KernelsRestrictsWhereItApplies) {
  auto s = load(R"({"kernels": ">=6.4"})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(skip_reason(*s, "6.1.0-57-amd64"), "kernels '>=6.4' excludes 6.1.0-57-amd64");
  EXPECT_EQ(skip_reason(*s, "6.12.118+deb12-amd64"), "");
  auto list = load(R"({"kernels": ["6.1"]})");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(skip_reason(*list, "6.12.118+deb12-amd64"),
            "kernels [6.1] excludes 6.12.118+deb12-amd64");
  EXPECT_EQ(skip_reason(*list, "6.1.0-57-amd64"), "");
  auto any = load("{}");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(skip_reason(*any, "6.1.0-57-amd64"), "");
}

TEST_F(ScenarioLoad, BadKernelsIsBadInputAtItsLine) {
  expect_error_containing("{\n  \"kernels\": \"6.4\"\n}", 2,
                          "key 'kernels': '6.4' is not a version constraint");
  expect_error_containing("{\n\n  \"kernels\": \">=6.4,<\"\n}", 3,
                          "key 'kernels': '<' is not a version constraint");
  expect_error_containing("{\n  \"kernels\": []\n}", 2, "key 'kernels': an empty list");
  expect_error_containing("{\n  \"kernels\": 6\n}", 2, "key 'kernels': expected a version");
  expect_error_containing("{\n  \"kernels\": [6]\n}", 2, "key 'kernels': expected a version");
}

TEST_F(ScenarioLoad, UnknownTopLevelKey) {
  expect_error_containing("{\n  \"timeout\": 5,\n  \"stpes\": []\n}\n", 3,
                          "key 'stpes': unknown key (known keys: version, description, modules, "
                          "files, timeout, warnings, steps, trace, expect, kernels)");
}

TEST_F(ScenarioLoad, UnknownStepKey) {
  expect_error_containing("{\n  \"steps\": [\n    {\"run\": \"true\"},\n    {\"run\": \"true\",\n  "
                          "   \"stdot\": \"x\"}\n"
                          "  ]\n}\n",
                          5, "key 'stdot': unknown key");
}

TEST_F(ScenarioLoad, UnknownExpectKey) {
  expect_error_containing("{\"expect\": {\n  \"kernel_logs\": []\n}}", 2,
                          "key 'kernel_logs': unknown key");
}

TEST_F(ScenarioLoad, UnknownModuleKey) {
  expect_error_containing("{\"modules\": [\n  {\"path\": \"../kmod/alpha\", \"param\": \"x\"}\n]}",
                          2, "key 'param': unknown key (known keys: path, params, load)");
}

TEST_F(ScenarioLoad, WrongTypes) {
  expect_error("{\n  \"timeout\": \"120\"\n}", 2, "key 'timeout': expected an integer, got string");
  expect_error("{\n  \"description\": 3\n}", 2, "key 'description': expected a string, got number");
  expect_error("{\"steps\": [\n  {\"run\": [\"ls\"]}\n]}", 2,
               "key 'run': expected a string, got array");
  expect_error("{\"steps\": [\n  {\"run\": \"ls\", \"stdout\": 3}\n]}", 2,
               "key 'stdout': expected a string, got number");
  expect_error("{\"steps\": [\n  {\"run\": \"ls\", \"exit\": true}\n]}", 2,
               "key 'exit': expected an integer, got boolean");
  expect_error("{\n  \"steps\": {}\n}", 2, "key 'steps': expected an array of steps, got object");
  expect_error("{\"steps\": [\n  \"ls\"\n]}", 2,
               "key 'steps': entry 1: expected an object like {\"run\": ...}, got string");
  expect_error("{\n  \"modules\": \"../kmod/alpha\"\n}", 2,
               "key 'modules': expected an array, got string");
  expect_error("{\n  \"files\": []\n}", 2,
               "key 'files': expected an object mapping guest paths to host files, got array");
  expect_error("{\n  \"expect\": []\n}", 2, "key 'expect': expected an object, got array");
  expect_error("{\"expect\": {\n  \"kernel_log\": \"Oops\"\n}}", 2,
               "key 'kernel_log': expected an array of strings, got string");
  expect_error("{\"expect\": {\"kernel_log\": [\n  \"a\",\n  7\n]}}", 3,
               "key 'kernel_log': entry 2: expected a string, got number");
  expect_error("{\"expect\": {\n  \"debugcon\": 1\n}}", 2,
               "key 'debugcon': expected a file path or {\"text\": ...}, got number");
}

TEST_F(ScenarioLoad, BadTimeouts) {
  expect_error("{\n  \"timeout\": -1\n}", 2,
               "key 'timeout': -1 is not a number of seconds between 1 and 86400");
  expect_error("{\"steps\": [\n  {\"run\": \"ls\", \"timeout\": 0}\n]}", 2,
               "key 'timeout': 0 is not a number of seconds between 1 and 86400");
  expect_error("{\n  \"timeout\": 1.5\n}", 2, "key 'timeout': expected an integer, got number");
}

TEST_F(ScenarioLoad, BadExitCode) {
  expect_error("{\"steps\": [\n  {\"run\": \"ls\", \"exit\": 256}\n]}", 2,
               "key 'exit': 256 is not an exit code (0 to 255)");
}

TEST_F(ScenarioLoad, StepWithoutRunPointsAtTheStep) {
  expect_error("{\"steps\": [\n  {\"run\": \"ls\"},\n  {\n    \"exit\": 1}\n]}", 3,
               "key 'run': missing (the shell command to run in the guest)");
  expect_error("{\"steps\": [\n  {\"run\": \"\"}\n]}", 2, "key 'run': the command is empty");
}

TEST_F(ScenarioLoad, Version) {
  EXPECT_TRUE(load(R"({"version": 1})").ok());
  expect_error("{\n  \"version\": 2\n}", 2,
               "key 'version': 2 is not supported; this labctl reads version 1");
  expect_error("{\n  \"version\": \"1\"\n}", 2,
               "key 'version': \"1\" is not supported; this labctl reads version 1");
}

TEST_F(ScenarioLoad, MissingModuleFolder) {
  expect_error("{\"modules\": [\n  \"../kmod/alpha\",\n  \"../kmod/gamma\"\n]}", 3,
               fmt::format("key 'modules': entry 2: module folder {} not found",
                           path("s/../kmod/gamma").string()));
  expect_error("{\"modules\": [\n  {\"path\": \"../kmod/gamma\"}\n]}", 2,
               fmt::format("key 'modules': entry 1: module folder {} not found",
                           path("s/../kmod/gamma").string()));
}

TEST_F(ScenarioLoad, ModuleFolderWithoutBuildFiles) {
  expect_error(
      "{\"modules\": [\n  \"../kmod/empty\"\n]}", 2,
      fmt::format("key 'modules': entry 1: {} has no Kbuild, Makefile or dkms.conf, so it is not a "
                  "kernel module folder",
                  path("s/../kmod/empty").string()));
}

TEST_F(ScenarioLoad, BadModuleEntries) {
  expect_error("{\"modules\": [\n  42\n]}", 2,
               "key 'modules': entry 1: expected a folder path or {\"path\": ..., \"params\": "
               "..., \"load\": ...}, got number");
  expect_error("{\"modules\": [\n  {\"params\": \"x=1\"}\n]}", 2,
               "key 'modules': entry 1: key 'path' missing (the module's folder)");
  expect_error("{\"modules\": [\n  {\"path\": \"../kmod/alpha\", \"params\": 1}\n]}", 2,
               "key 'params': expected a string or an object keyed by module name, got number");
}

TEST_F(ScenarioLoad, BadFiles) {
  expect_error("{\"files\": {\n  \"usr/bin/x\": \"files/probe.sh\"\n}}", 2,
               "key 'files': guest path 'usr/bin/x' must be absolute (start with /)");
  expect_error("{\"files\": {\n  \"/usr/../etc/x\": \"files/probe.sh\"\n}}", 2,
               "key 'files': guest path '/usr/../etc/x' must not contain ..");
  expect_error("{\"files\": {\n  \"/usr/bin/\": \"files/probe.sh\"\n}}", 2,
               "key 'files': guest path '/usr/bin/' must name a file, not end in /");
  expect_error("{\"files\": {\n  \"/x\": \"files/nope.sh\"\n}}", 2,
               fmt::format("key 'files': source for '/x' not found: {} is not a file",
                           path("s/files/nope.sh").string()));
  expect_error("{\"files\": {\n  \"/x\": \"files\"\n}}", 2,
               fmt::format("key 'files': source for '/x' not found: {} is not a file",
                           path("s/files").string()));
  expect_error("{\"files\": {\n  \"/x\": 1\n}}", 2,
               "key 'files': '/x' must map to a host file path, got number");
}

TEST_F(ScenarioLoad, GuestPathsTheInitrdCannotHoldAreRefusedWithTheirLine) {
  // These used to pass loading and fail only when the initrd was packed, without a line.
  expect_error("{\"files\": {\n  \"/a/./b\": \"files/probe.sh\"\n}}", 2,
               "key 'files': invalid initrd path \"/a/./b\": \".\" component");
  expect_error("{\"files\": {\n  \"/a//b\": \"files/probe.sh\"\n}}", 2,
               "key 'files': invalid initrd path \"/a//b\": empty component");
  expect_error_containing("{\"files\": {\n  \"/TRAILER!!!\": \"files/probe.sh\"\n}}", 2,
                          "marks the end of a cpio archive");
}

TEST_F(ScenarioLoad, FilesThatWouldReplaceWhatLabctlsInitReliesOnAreRefused) {
  expect_error("{\"files\": {\n  \"/init\": \"files/probe.sh\"\n}}", 2,
               "key 'files': guest path '/init' is reserved (it is labctl's init, PID 1)");
  expect_error("{\"files\": {\n  \"/lib/labctl/agent.sh\": \"files/probe.sh\"\n}}", 2,
               "key 'files': guest path '/lib/labctl/agent.sh' is reserved (labctl's agent lives "
               "there)");
  expect_error("{\"files\": {\n  \"/run/labctl/agent.sh\": \"files/probe.sh\"\n}}", 2,
               "key 'files': guest path '/run/labctl/agent.sh' is reserved (labctl's agent keeps "
               "its state there)");
  expect_error("{\"files\": {\n  \"/tmp/x\": \"files/probe.sh\"\n}}", 2,
               "key 'files': guest path '/tmp/x' is reserved (init mounts a tmpfs on /tmp, which "
               "would hide it)");
  // Every entry of the one list is refused, at its path and (where it says so) below it.
  for (const auto& reserved : k_reserved_guest_paths) {
    std::string at = std::string(reserved.path);
    expect_error_containing(fmt::format("{{\"files\": {{\n  \"{}\": \"files/probe.sh\"\n}}}}", at),
                            2, "is reserved");
    if (reserved.below)
      expect_error_containing(
          fmt::format("{{\"files\": {{\n  \"{}/x\": \"files/probe.sh\"\n}}}}", at), 2,
          "is reserved");
  }
  // Near misses are ordinary paths.
  for (const char* ok : {"/initx", "/lib/labctlx", "/runx/a", "/bin/shx", "/usr/bin/probe.sh"}) {
    auto s = load(fmt::format(R"({{"files": {{"{}": "files/probe.sh"}}}})", ok));
    EXPECT_TRUE(s.ok()) << ok << ": " << s.error().message;
  }
}

TEST_F(ScenarioLoad, ModuleParamsThatDoNotSplitAreRefusedWithTheirLine) {
  expect_error("{\"modules\": [\n  {\"path\": \"../kmod/alpha\",\n   \"params\": \"a='x y\"}\n]}",
               3, "key 'params': unterminated ' in module params \"a='x y\"");
  expect_error_containing(
      "{\"modules\": [\n  {\"path\": \"../kmod/alpha\", \"params\": \"a=\\\"x\"}\n]}", 2,
      "key 'params': unterminated \"");
  auto s = load(R"({"modules": [{"path": "../kmod/alpha", "params": "a='x y' b=2"}]})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->modules.at(0).params, "a='x y' b=2");
}

TEST_F(ScenarioLoad, ParamsPerModuleAndLoadChoiceAreReadWithTheirLines) {
  auto s = load("{\"modules\": [\n"
                "  {\"path\": \"../kmod/alpha\",\n"
                "   \"params\": {\"amid\": \"level=3\",\n"
                "              \"zbase\": \"debug=1\"},\n"
                "   \"load\": [\"zbase\", \"amid\"]},\n"
                "  {\"path\": \"../kmod/beta\", \"load\": false},\n"
                "  {\"path\": \"../kmod/beta\", \"load\": true}\n"
                "]}");
  ASSERT_TRUE(s.ok()) << s.error().message;
  const auto& a = s->modules.at(0);
  EXPECT_TRUE(a.params_per_module);
  ASSERT_EQ(a.module_params.size(), 2u);
  EXPECT_EQ(a.module_params[0].name, "amid");
  EXPECT_EQ(a.module_params[0].params, "level=3");
  EXPECT_EQ(a.module_params[0].where, path("s/t.json").string() + ":3: key 'amid'");
  EXPECT_EQ(a.module_params[1].where, path("s/t.json").string() + ":4: key 'zbase'");
  ASSERT_TRUE(a.load.has_value());
  ASSERT_EQ(a.load->size(), 2u);
  EXPECT_EQ((*a.load)[0].name, "zbase");
  EXPECT_EQ((*a.load)[1].where, path("s/t.json").string() + ":5: key 'load': entry 2");
  ASSERT_TRUE(s->modules.at(1).load.has_value());
  EXPECT_TRUE(s->modules.at(1).load->empty());
  EXPECT_FALSE(s->modules.at(2).load.has_value());

  expect_error("{\"modules\": [\n  {\"path\": \"../kmod/alpha\",\n   \"params\": {\"a\": 1}}\n]}",
               3, "key 'a': expected a string (the module's insmod parameters), got number");
  expect_error(
      "{\"modules\": [\n  {\"path\": \"../kmod/alpha\",\n   \"params\": {\"a\": \"x='y\"}}\n]}", 3,
      "key 'a': unterminated ' in module params \"x='y\"");
  expect_error("{\"modules\": [\n  {\"path\": \"../kmod/alpha\",\n   \"params\": [\"a=1\"]}\n]}", 3,
               "key 'params': expected a string or an object keyed by module name, got array");
  expect_error("{\"modules\": [\n  {\"path\": \"../kmod/alpha\",\n   \"load\": \"alpha\"}\n]}", 3,
               "key 'load': expected false, true or an array of module names, got string");
  expect_error("{\"modules\": [\n  {\"path\": \"../kmod/alpha\",\n   \"load\": [\"a\", \"a\"]}\n]}",
               3, "key 'load': entry 2: module 'a' is already in the list");
}

// The folder's .ko files in modules.order: zbase, then amid.
class GuestModulesOf : public ::testing::Test {
protected:
  std::vector<fs::path> ko = {"/c/zbase.ko", "/c/amid.ko"};
  ScenarioModule folder() const {
    ScenarioModule m;
    m.dir = "/src/chain";
    return m;
  }
};

TEST_F(GuestModulesOf, EveryModuleLoadsInModulesOrderByDefault) {
  auto files = guest_modules_of(folder(), ko);
  ASSERT_TRUE(files.ok()) << files.error().message;
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].name, "zbase");
  EXPECT_EQ((*files)[1].name, "amid");
  EXPECT_TRUE((*files)[0].load && (*files)[1].load);
  EXPECT_EQ((*files)[0].params, "");
}

TEST_F(GuestModulesOf, ParamsReachOnlyTheModuleTheyWereWrittenFor) {
  ScenarioModule m = folder();
  m.params_per_module = true;
  m.module_params = {{"amid", "level=3", "s.json:3: key 'amid'"}};
  auto files = guest_modules_of(m, ko);
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ((*files)[0].params, "");
  EXPECT_EQ((*files)[1].params, "level=3");

  m.module_params = {{"zz", "x=1", "s.json:3: key 'zz'"}};
  auto unknown = guest_modules_of(m, ko);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ExitCode::bad_input);
  EXPECT_EQ(unknown.error().message,
            "s.json:3: key 'zz': /src/chain builds no module 'zz' (it builds zbase, amid)");
}

TEST_F(GuestModulesOf, AParamsStringIsForAFolderThatBuildsOneModule) {
  ScenarioModule m = folder();
  m.params = "level=3";
  m.params_where = "s.json:2: key 'params'";
  auto several = guest_modules_of(m, ko);
  ASSERT_FALSE(several.ok());
  EXPECT_EQ(several.error().code, ExitCode::bad_input);
  EXPECT_EQ(several.error().message.rfind("s.json:2: key 'params': /src/chain builds 2 modules "
                                          "(zbase, amid); give params per module",
                                          0),
            0u)
      << several.error().message;
  auto one = guest_modules_of(m, {"/c/zbase.ko"});
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one->at(0).params, "level=3");
}

TEST_F(GuestModulesOf, LoadChoosesWhatLoadsAndInWhichOrder) {
  ScenarioModule m = folder();
  m.load = std::vector<ModuleChoice>{{"amid", "", "s.json:4: key 'load': entry 1"}};
  auto files = guest_modules_of(m, ko);
  ASSERT_TRUE(files.ok()) << files.error().message;
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].name, "amid");
  EXPECT_TRUE((*files)[0].load);
  EXPECT_EQ((*files)[1].name, "zbase");
  EXPECT_FALSE((*files)[1].load) << "shipped, not loaded";

  m.load->emplace_back(ModuleChoice{"zbase", "", "s.json:4: key 'load': entry 2"});
  auto both = guest_modules_of(m, ko);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ((*both)[0].name, "amid");
  EXPECT_EQ((*both)[1].name, "zbase");
  EXPECT_TRUE((*both)[1].load);

  m.load = std::vector<ModuleChoice>{};
  auto none = guest_modules_of(m, ko);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE((*none)[0].load || (*none)[1].load);

  m.load = std::vector<ModuleChoice>{{"nope", "", "s.json:4: key 'load': entry 1"}};
  auto unknown = guest_modules_of(m, ko);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(
      unknown.error().message,
      "s.json:4: key 'load': entry 1: /src/chain builds no module 'nope' (it builds zbase, amid)");
}

TEST_F(ScenarioLoad, KeyGivenTwiceIsRefusedNamingTheSecond) {
  // nlohmann kept the last "steps" and dropped the first list without a word.
  expect_error("{\n  \"steps\": [{\"run\": \"a\"}],\n  \"steps\": [{\"run\": \"b\"}]\n}", 3,
               "key 'steps' given twice (first on line 2); JSON would keep only the last value");
  expect_error_containing("{\"expect\": {\n  \"faults\": [],\n  \"faults\": [\"oops\"]\n}}", 3,
                          "key 'faults' given twice");
}

TEST_F(ScenarioLoad, MissingDebugconFile) {
  expect_error("{\"expect\": {\n  \"debugcon\": \"nope.expected\"\n}}", 2,
               fmt::format("key 'debugcon': expected-output file {} not found",
                           path("s/nope.expected").string()));
}

TEST_F(ScenarioLoad, DebugconObjectNeedsText) {
  expect_error("{\"expect\": {\n  \"debugcon\": {\n    \"txt\": \"a\"}\n}}", 3,
               "key 'txt': unknown key (known keys: text)");
  expect_error("{\"expect\": {\n  \"debugcon\": {}\n}}", 2,
               "key 'debugcon': key 'text' missing (the expected bytes, or give a file path "
               "instead)");
}

TEST_F(ScenarioLoad, BadRegexes) {
  expect_error("{\"steps\": [\n  {\"run\": \"ls\",\n   \"stdout_regex\": \"busy(\"}\n]}", 3,
               "key 'stdout_regex': bad regex /busy(/: missing ): busy(");
  expect_error("{\"steps\": [\n  {\"run\": \"ls\", \"stderr_regex\": \"[a\"}\n]}", 2,
               "key 'stderr_regex': bad regex /[a/: missing ]: [a");
  expect_error("{\"expect\": {\"kernel_log\": [\n  \"ok\",\n  \"a**\"\n]}}", 3,
               "key 'kernel_log': bad regex /a**/: bad repetition operator: **");
  // RE2 has no backreferences or lookaround (that is what keeps it linear).
  expect_error_containing("{\"expect\": {\n  \"kernel_log_absent\": [\"(a)\\\\1\"]\n}}", 2,
                          "key 'kernel_log_absent': bad regex /(a)\\1/: invalid escape sequence");
  expect_error_containing("{\"expect\": {\"kernel_log\": [\n  \"a(?=b)\"]\n}}", 2,
                          "key 'kernel_log': bad regex /a(?=b)/: ");
}

TEST_F(ScenarioLoad, StepThatEndsTheGuest) {
  auto s = load(R"({"steps": [
    {"run": "echo ok", "stdout": "ok"},
    {"run": "echo c > /proc/sysrq-trigger", "ends_guest": "panic"}
  ]})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->steps[0].ends_guest, std::nullopt);
  EXPECT_EQ(s->steps[1].ends_guest, GuestEnd::panic);
  for (GuestEnd end : {GuestEnd::panic, GuestEnd::poweroff, GuestEnd::reset}) {
    auto one =
        load(fmt::format(R"({{"steps": [{{"run": "x", "ends_guest": "{}"}}]}})", to_string(end)));
    ASSERT_TRUE(one.ok()) << one.error().message;
    EXPECT_EQ(one->steps[0].ends_guest, end);
  }
}

TEST_F(ScenarioLoad, StepThatEndsTheGuestIsValidated) {
  expect_error("{\"steps\": [\n  {\"run\": \"x\",\n   \"ends_guest\": \"crash\"}]}", 3,
               "key 'ends_guest': 'crash' is not \"panic\", \"poweroff\" or \"reset\"");
  expect_error("{\"steps\": [\n  {\"run\": \"x\",\n   \"ends_guest\": true}]}", 3,
               "key 'ends_guest': expected a string, got boolean");
  // It never answers, so there is nothing to compare.
  for (const char* key : {"exit", "stdout", "stderr", "stdout_regex", "stderr_regex"})
    expect_error(fmt::format("{{\"steps\": [{{\"run\": \"x\", \"ends_guest\": \"panic\",\n  "
                             "\"{}\": {}}}]}}",
                             key, std::string_view(key) == "exit" ? "0" : "\"ok\""),
                 2,
                 fmt::format("key '{}': a step that ends the guest (\"ends_guest\": \"panic\") "
                             "returns nothing to compare",
                             key));
  // Nothing runs after it: refused where the next step starts.
  expect_error("{\"steps\": [\n  {\"run\": \"poweroff -f\", \"ends_guest\": \"poweroff\"},\n"
               "  {\"run\": \"echo never\"}\n]}",
               3,
               "key 'steps': entry 2: step 1 (line 2) ends the guest (\"ends_guest\": "
               "\"poweroff\"), so no step can follow it");
}

TEST_F(ScenarioLoad, UnknownFaultKind) {
  expect_error(
      "{\"expect\": {\"faults\": [\n  \"oops\",\n  \"opps\"\n]}}", 3,
      "key 'faults': 'opps' is not a fault kind (known kinds: oops, bug, warning, panic, "
      "gpf, invalid_opcode, divide_error, double_fault, stack_segment, soft_lockup, "
      "hard_lockup, rcu_stall, hung_task, kasan, kfence, kcsan, kmsan, ubsan, slub, unknown)");
  // A kind spelt as the kernel prints it is not the scanner's name for it.
  expect_error(
      "{\"expect\": {\n  \"faults\": [\"KASAN\"]}}", 2,
      "key 'faults': 'KASAN' is not a fault kind (known kinds: oops, bug, warning, panic, "
      "gpf, invalid_opcode, divide_error, double_fault, stack_segment, soft_lockup, "
      "hard_lockup, rcu_stall, hung_task, kasan, kfence, kcsan, kmsan, ubsan, slub, unknown)");
}

// Whatever the fault scanner can report, a scenario can expect.
TEST_F(ScenarioLoad, EveryKindTheScannerReportsCanBeExpected) {
  ASSERT_GT(k_fault_kinds.size(), 7u);
  for (auto kind : k_fault_kinds) {
    auto s = load(fmt::format(R"({{"expect": {{"faults": ["{}"]}}}})", kind));
    ASSERT_TRUE(s.ok()) << kind << ": " << s.error().message;
    EXPECT_EQ(s->expect.faults, std::vector<std::string>{std::string(kind)});
  }
}

// docs/scenario.md's table of fault kinds is the scanner's list, in its order.
TEST(ScenarioDocs, FaultKindTableIsTheScannersList) {
  auto doc = read_file(test::test_data("../../docs/scenario.md"));
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  size_t section = doc->find("#### `expect.faults`");
  ASSERT_NE(section, std::string::npos);
  size_t end = doc->find("\n#### ", section + 1);
  std::vector<std::string> documented;
  std::istringstream lines(doc->substr(section, end - section));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("| `", 0) == 0)
      documented.push_back(line.substr(3, line.find('`', 3) - 3));
  EXPECT_EQ(documented, std::vector<std::string>(k_fault_kinds.begin(), k_fault_kinds.end()));
}

TEST_F(ScenarioLoad, MalformedJsonGivesLineAndColumn) {
  fs::path file = write("{\n  \"timeout\": 5,\n}\n");
  auto s = load_scenario(file);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ExitCode::bad_input);
  EXPECT_EQ(s.error().message.rfind(file.string() + ":3:", 0), 0u) << s.error().message;
}

TEST_F(ScenarioLoad, TopLevelMustBeAnObject) {
  expect_error("[]", 1, "the document must be an object, not array");
}

TEST_F(ScenarioLoad, MissingFileIsBadInput) {
  auto s = load_scenario(path("s/none.json"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ExitCode::bad_input);
  EXPECT_NE(s.error().message.find(path("s/none.json").string()), std::string::npos);
}

class ScenarioArgs : public ::testing::Test {
protected:
  test::ScratchDir m_dir;
};

TEST_F(ScenarioArgs, FolderGivesItsJsonFilesSorted) {
  m_dir.write("sc/b.json", "{}");
  m_dir.write("sc/a.json", "{}");
  m_dir.write("sc/c.expected", "");
  m_dir.write("sc/sub/d.json", "{}");
  auto files = expand_scenario_args({(m_dir.path() / "sc").string()});
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ(*files,
            (std::vector<fs::path>{m_dir.path() / "sc/a.json", m_dir.path() / "sc/b.json"}));
}

TEST_F(ScenarioArgs, FilesKeepTheirOrderAndRepeatsAreDropped) {
  auto a = m_dir.write("a.json", "{}");
  auto b = m_dir.write("b.txt", "{}");
  auto files = expand_scenario_args({b.string(), a.string(), b.string()});
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ(*files, (std::vector<fs::path>{b, a}));
}

TEST_F(ScenarioArgs, Errors) {
  auto none = expand_scenario_args({});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ExitCode::bad_input);

  auto missing = expand_scenario_args({(m_dir.path() / "nope.json").string()});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ExitCode::bad_input);
  EXPECT_EQ(missing.error().message,
            (m_dir.path() / "nope.json").string() + ": no such scenario file or folder");

  auto empty = expand_scenario_args({m_dir.mkdir("empty").string()});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ExitCode::bad_input);
  EXPECT_EQ(empty.error().message,
            (m_dir.path() / "empty").string() + ": no scenario files (*.json) in this folder");
}

TEST(ScenarioShipped, EveryScenarioInTheTreeLoads) {
  fs::path dir = fs::path(LABCTL_SOURCE_DIR) / "scenarios";
  if (!fs::is_directory(dir))
    GTEST_SKIP() << dir << " does not exist yet";
  auto files = expand_scenario_args({dir.string()});
  ASSERT_TRUE(files.ok()) << files.error().message;
  for (const auto& file : *files) {
    auto s = load_scenario(file);
    EXPECT_TRUE(s.ok()) << s.error().message;
  }
}

} // namespace
} // namespace labctl
