#include "image/init_script.h"

#include "util/fs.h"
#include "util/process.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace labctl {
namespace {

using Words = std::vector<std::string>;

Words split(std::string_view params) {
  auto words = split_module_params(params);
  EXPECT_TRUE(words.ok()) << words.error().message;
  return words.ok() ? *words : Words{};
}

TEST(InitScriptParams, ShellLikeSplitting) {
  EXPECT_EQ(split(""), Words{});
  EXPECT_EQ(split("  a=1\tb=2 \n flag "), (Words{"a=1", "b=2", "flag"}));
  EXPECT_EQ(split("s='x y'"), (Words{"s=\"x y\""}));
  EXPECT_EQ(split("s=\"x y\" t=it\\'s"), (Words{"s=\"x y\"", "t=it's"}));
  EXPECT_EQ(split("u='a'b\"c\""), (Words{"u=abc"}));
  EXPECT_EQ(split("list=1,2,3 name='$HOME;`x`'"), (Words{"list=1,2,3", "name=$HOME;`x`"}));
  EXPECT_EQ(split("e= f=''"), (Words{"e=", "f="}));
}

TEST(InitScriptParams, Rejected) {
  for (const char* bad : {"a='x", "a=\"x", "a=x\\", "a='x\"y'", "=x", "'x y'"}) {
    auto words = split_module_params(bad);
    EXPECT_FALSE(words.ok()) << bad;
    if (!words.ok()) {
      EXPECT_EQ(words.error().code, ExitCode::bad_input);
    }
  }
}

// Run a rendered script with labctl_load replaced by a printer of its arguments.
std::string run_loads(const std::vector<GuestModule>& modules) {
  std::string tmpl = "labctl_load() { for a; do printf '[%s]' \"$a\"; done; echo; }\n"
                     "@LABCTL_MODULES@\n";
  auto script = render_init_script(tmpl, modules);
  EXPECT_TRUE(script.ok()) << script.error().message;
  if (!script.ok())
    return {};
  auto done = run_capture({.argv = {"sh", "-c", *script}}, std::chrono::seconds(10));
  EXPECT_TRUE(done.ok());
  return done.ok() ? done->out : std::string{};
}

TEST(InitScript, ModuleLinesReachTheShellWordForWord) {
  EXPECT_EQ(run_loads({{"debugcon", "/lib/labctl/modules/debugcon.ko", ""},
                       {"qemu_exercise", "/lib/labctl/modules/qemu exercise.ko",
                        "msg='hello world' n=3 q=it\\'s x=\"$(reboot)\""}}),
            "[debugcon][/lib/labctl/modules/debugcon.ko]\n"
            "[qemu_exercise][/lib/labctl/modules/qemu exercise.ko][msg=\"hello world\"][n=3]"
            "[q=it's][x=$(reboot)]\n");
}

TEST(InitScript, PlaceholderLineIsReplacedAndTheRestKept) {
  auto script = render_init_script("#!/bin/sh\necho a\n  @LABCTL_MODULES@  \necho b\n",
                                   {{"m", "/m.ko", "p=1"}});
  ASSERT_TRUE(script.ok());
  EXPECT_EQ(*script, "#!/bin/sh\necho a\nlabctl_load m /m.ko p=1\necho b\n");
  auto none = render_init_script("a\n@LABCTL_MODULES@\nb", {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, "a\n# (no modules to load)\nb");
}

TEST(InitScript, TemplateWithoutExactlyOnePlaceholder) {
  for (const char* tmpl :
       {"#!/bin/sh\n", "echo @LABCTL_MODULES@\n", "@LABCTL_MODULES@\n@LABCTL_MODULES@\n"}) {
    auto script = render_init_script(tmpl, {});
    ASSERT_FALSE(script.ok()) << tmpl;
    EXPECT_EQ(script.error().code, ExitCode::environment);
    EXPECT_NE(script.error().message.find("@LABCTL_MODULES@"), std::string::npos);
  }
}

TEST(InitScript, BadModulesAreBadInput) {
  for (const GuestModule& module : std::vector<GuestModule>{{"a=b", "/a.ko", ""},
                                                            {"", "/a.ko", ""},
                                                            {"a b", "/a.ko", ""},
                                                            {"a", "a.ko", ""},
                                                            {"a", "/a.ko", "x='"}}) {
    auto script = render_init_script("@LABCTL_MODULES@\n", {module});
    ASSERT_FALSE(script.ok()) << module.name;
    EXPECT_EQ(script.error().code, ExitCode::bad_input);
  }
}

TEST(InitScript, ShippedTemplateRendersToValidShell) {
  auto tmpl = read_file(fs::path(LABCTL_SOURCE_DIR) / "initrd/init.sh");
  ASSERT_TRUE(tmpl.ok());
  auto script = render_init_script(*tmpl, {{"debugcon", "/lib/labctl/modules/debugcon.ko", ""},
                                           {"m", "/lib/labctl/modules/m.ko", "s='a b'"}});
  ASSERT_TRUE(script.ok()) << script.error().message;
  EXPECT_NE(script->find("\nlabctl_load debugcon /lib/labctl/modules/debugcon.ko\n"),
            std::string::npos);
  EXPECT_NE(script->find("\nlabctl_load m /lib/labctl/modules/m.ko 's=\"a b\"'\n"),
            std::string::npos);
  EXPECT_EQ(script->find(k_modules_placeholder), std::string::npos);
  // Parse only (-n): the guest's shell is busybox sh when the host has it.
  std::string shell = find_program("busybox").empty() ? "sh" : "busybox";
  std::vector<std::string> argv{shell};
  if (shell == "busybox")
    argv.push_back("sh");
  argv.insert(argv.end(), {"-n", "-c", *script});
  auto parsed = run_capture({.argv = argv}, std::chrono::seconds(10));
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->status.success()) << parsed->err;
}

} // namespace
} // namespace labctl
