// labctl as an installed tool: cmake --install into a staged prefix that then moves, the
// Debian package, the man page and completion made from --help, `labctl new`, --version
// and the CI recipes.
#include "e2e_support.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

namespace labctl::e2e {
namespace {

// The build tree the labctl under test lives in (build/cli/labctl).
fs::path build_dir() {
  return fs::path(LABCTL_BINARY).parent_path().parent_path();
}

struct Ran {
  int code = -1;
  std::string out, err;
};

Ran run(std::vector<std::string> argv, const fs::path& cwd = {}, Env env = {},
        std::chrono::seconds timeout = std::chrono::seconds(600)) {
  auto r = run_capture({.argv = argv, .cwd = cwd, .env = env}, timeout);
  EXPECT_TRUE(r.ok()) << argv[0] << ": " << (r.ok() ? "" : r.error().message);
  if (!r.ok())
    return {};
  EXPECT_FALSE(r->timed_out) << argv[0] << " did not finish in time";
  return {r->status.code, r->out, r->err};
}

// The subcommands `labctl --help` lists.
std::vector<std::string> subcommands() {
  auto help = labctl({"--help"}).out;
  std::vector<std::string> subs;
  bool in_section = false;
  for (const auto& line : lines_of(help)) {
    if (line == "Subcommands:")
      in_section = true;
    else if (in_section && line.rfind("  ", 0) == 0)
      subs.push_back(line.substr(2, line.find(' ', 2) - 2));
    else
      in_section = false;
  }
  return subs;
}

// Every option name (-j, --jobs) one --help lists.
std::set<std::string> options_in_help(std::vector<std::string> args) {
  args.push_back("--help");
  std::set<std::string> names;
  static const std::regex option(R"(^  (-[-\w,]+))");
  for (const auto& line : lines_of(labctl(args).out)) {
    std::smatch m;
    if (!std::regex_search(line, m, option))
      continue;
    std::string list = m[1];
    for (size_t start = 0, comma; start < list.size(); start = comma + 1) {
      comma = list.find(',', start);
      if (comma == std::string::npos)
        comma = list.size();
      names.insert(list.substr(start, comma - start));
    }
  }
  return names;
}

TEST(Install, MovedPrefixRunsANewModuleFromAnEmptyFolder) {
  ASSERT_EQ(std::getenv("LABCTL_HOME"), nullptr) << "the test needs LABCTL_HOME unset";
  TempDir tmp("labctl-install");
  auto installed = run({"cmake", "--install", build_dir().string(), "--prefix", "/usr"}, {},
                       {{"DESTDIR", (tmp.path() / "stage").string()}});
  ASSERT_EQ(installed.code, 0) << installed.out << installed.err;
  // The staged /usr moves to another prefix: nothing may point back at either.
  fs::path prefix = tmp.path() / "moved" / "opt-labctl";
  fs::create_directories(prefix.parent_path());
  fs::rename(tmp.path() / "stage" / "usr", prefix);
  fs::remove_all(tmp.path() / "stage");
  fs::path bin = prefix / "bin" / "labctl";
  fs::path work = tmp.path() / "work";
  fs::create_directories(work);
  Env env = {{"XDG_CONFIG_HOME", (tmp.path() / "config").string()},
             {"LABCTL_CACHE_DIR", (tmp.path() / "cache").string()}};

  auto doctor = run({bin.string(), "doctor"}, work, env);
  EXPECT_NE(
      doctor.out.find((prefix / "share/labctl/configs/default.json").string() + " (installed)"),
      std::string::npos)
      << doctor.out << doctor.err;

  auto created = run({bin.string(), "new", "hello_lab"}, work, env);
  ASSERT_EQ(created.code, 0) << created.out << created.err;
  auto ran = run({bin.string(), "run", "hello_lab/hello_lab.json", "--artifacts",
                  (tmp.path() / "artifacts").string()},
                 work, env);
  EXPECT_EQ(ran.code, 0) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("PASS  hello_lab"), std::string::npos) << ran.out;
}

TEST(Package, DebNamesItsDependsAndFiles) {
  TempDir tmp("labctl-deb");
  auto packed = run({"cpack", "-G", "DEB", "-B", tmp.path().string(), "--config",
                     (build_dir() / "CPackConfig.cmake").string()},
                    build_dir());
  ASSERT_EQ(packed.code, 0) << packed.out << packed.err;
  fs::path deb;
  for (const auto& entry : fs::directory_iterator(tmp.path()))
    if (entry.path().extension() == ".deb")
      deb = entry.path();
  ASSERT_FALSE(deb.empty()) << packed.out;
  EXPECT_TRUE(
      std::regex_match(deb.filename().string(), std::regex(R"(labctl_\d+\.\d+\.\d+_amd64\.deb)")))
      << deb;

  auto info = run({"dpkg-deb", "-I", deb.string()});
  ASSERT_EQ(info.code, 0) << info.err;
  std::smatch depends;
  ASSERT_TRUE(std::regex_search(info.out, depends, std::regex(R"(\n Depends: ([^\n]*))")))
      << info.out;
  std::string d = ", " + depends[1].str() + ",";
  for (std::string p : {"qemu-system-x86", "busybox-static", "kmod", "linux-image-amd64",
                        "linux-headers-amd64", "dwarves", "make", "gcc", "libc6-dev"})
    EXPECT_NE(d.find(", " + p + ","), std::string::npos) << p << " in " << d;
  // dpkg-shlibdeps named the shared libraries labctl links.
  for (std::string lib : {"libarchive13", "libre2-9", "libstdc++6", "libc6 ("})
    EXPECT_NE(d.find(lib), std::string::npos) << lib << " in " << d;

  auto contents = run({"dpkg-deb", "-c", deb.string()});
  ASSERT_EQ(contents.code, 0) << contents.err;
  for (std::string file :
       {"./usr/bin/labctl", "./usr/share/labctl/initrd/init.sh",
        "./usr/share/labctl/initrd/agent.sh", "./usr/share/labctl/configs/default.json",
        "./usr/share/labctl/templates/module/Kbuild",
        "./usr/share/labctl/templates/module/@NAME@.c", "./usr/share/man/man1/labctl.1.gz",
        "./usr/share/bash-completion/completions/labctl", "./usr/share/doc/labctl/README.md",
        "./usr/share/doc/labctl/ci.md", "./usr/share/doc/labctl/ci/github-actions.yml"})
    EXPECT_NE(contents.out.find(" " + file + "\n"), std::string::npos) << file;
  for (const auto& line : lines_of(contents.out))
    EXPECT_EQ(line.find("./usr/"), line.find("./")) << "outside /usr: " << line;
}

TEST(Package, VersionNamesTheRevision) {
  auto v = labctl({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  std::smatch m;
  ASSERT_TRUE(
      std::regex_match(v.out, m, std::regex(R"(labctl \d+\.\d+\.\d+ \(revision (\S+)\)\n)")))
      << v.out;
  if (fs::exists(source_dir() / ".git")) { // a checkout: git describe gave a revision
    EXPECT_NE(m[1].str(), "unknown");
  }
}

TEST(ManPage, RendersEveryOptionAndSubcommand) {
  fs::path page = build_dir() / "docs/labctl.1";
  auto man = run({"man", "-l", page.string()}, {},
                 {{"MANWIDTH", "200"}, {"LC_ALL", "C"}, {"MANPAGER", "cat"}, {"PAGER", "cat"}});
  ASSERT_EQ(man.code, 0) << man.err;
  EXPECT_EQ(man.err, "") << "groff warnings";
  for (std::string section :
       {"NAME", "SYNOPSIS", "GLOBAL OPTIONS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES"})
    EXPECT_NE(man.out.find("\n" + section + "\n"), std::string::npos) << section;
  for (std::string text :
       {"130", "LABCTL_HOME", "XDG_CONFIG_HOME", "LABCTL_CACHE_DIR", "Ctrl-A x", "DIR/Kbuild"})
    EXPECT_NE(man.out.find(text), std::string::npos) << text;
  auto subs = subcommands();
  ASSERT_GE(subs.size(), 7u);
  for (const auto& sub : subs) {
    EXPECT_NE(man.out.find("labctl " + sub), std::string::npos) << sub;
    for (const auto& option : options_in_help({sub}))
      EXPECT_NE(man.out.find(option), std::string::npos) << sub << " " << option;
  }
  for (const auto& option : options_in_help({}))
    EXPECT_NE(man.out.find(option), std::string::npos) << option;
}

// What the completion offers for the words of a command line (the last one being completed).
std::set<std::string> complete(const std::vector<std::string>& words, const fs::path& cwd = {}) {
  std::string script = "source " + (build_dir() / "docs/labctl.bash").string() + "; COMP_WORDS=(";
  for (const auto& w : words)
    script += "'" + w + "' ";
  script += fmt::format("); COMP_CWORD={}; _labctl; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                        words.size() - 1);
  std::string path = fs::path(LABCTL_BINARY).parent_path().string() + ":" + std::getenv("PATH");
  auto r = run({"/bin/bash", "--norc", "-c", script}, cwd, {{"PATH", path}});
  EXPECT_EQ(r.code, 0) << r.err;
  std::set<std::string> out;
  for (const auto& line : lines_of(r.out))
    if (!line.empty())
      out.insert(line);
  return out;
}

TEST(Completion, OffersEverySubcommandOptionProfileAndScenario) {
  auto subs = subcommands();
  ASSERT_GE(subs.size(), 7u);
  EXPECT_EQ(complete({"labctl", ""}), std::set<std::string>(subs.begin(), subs.end()));
  for (const auto& sub : subs) {
    auto offered = complete({"labctl", "-v", sub, "-"});
    for (const auto& option : options_in_help({sub}))
      EXPECT_TRUE(offered.count(option)) << sub << " " << option;
  }
  EXPECT_TRUE(complete({"labctl", "--profile", ""}).count("default"));
  EXPECT_TRUE(complete({"labctl", "--kernel", "a"}).count("auto"));
  auto scenarios = complete({"labctl", "run", "scenarios/sm"}, source_dir());
  EXPECT_EQ(scenarios, std::set<std::string>{"scenarios/smoke.json"});
}

TEST(CiRecipes, ParseAndUseRealOptions) {
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   (tests_dir() / "check_ci_recipes.py").string(), LABCTL_BINARY};
  for (auto name : {"github-actions.yml", "gitlab-ci.yml"})
    argv.push_back((source_dir() / "docs/ci" / name).string());
  auto good = run(argv);
  EXPECT_EQ(good.code, 0) << good.out << good.err;
  // The checker itself catches an option labctl does not have and a shard count that is off.
  TempDir tmp("labctl-ci");
  ASSERT_TRUE(write_file_atomic(tmp.path() / "bad.yml",
                                "job:\n  parallel: 3\n  script:\n"
                                "    - labctl run --bogus tests/\n"
                                "    - labctl run --shard $CI_NODE_INDEX/2 tests/\n")
                  .ok());
  auto bad = run({argv[0], argv[1], argv[2], (tmp.path() / "bad.yml").string()});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("--bogus is not an option of labctl run"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("but the jobs make [3] shards"), std::string::npos) << bad.out;
}

TEST(NewCommand, CreatesAModuleAndRefusesToOverwrite) {
  TempDir tmp("labctl-new");
  auto made = run({LABCTL_BINARY, "new", "demo_dev"}, tmp.path());
  ASSERT_EQ(made.code, 0) << made.err;
  fs::path dir = tmp.path() / "demo_dev";
  for (auto f : {"Kbuild", "Makefile", "demo_dev.c", "demo_dev.json"})
    EXPECT_TRUE(fs::is_regular_file(dir / f)) << f;
  EXPECT_EQ(*read_file(dir / "Kbuild"), "obj-m := demo_dev.o\n");
  EXPECT_NE(read_file(dir / "Makefile")->find("KDIR ?= /lib/modules/$(shell uname -r)/build"),
            std::string::npos);
  auto source = *read_file(dir / "demo_dev.c");
  EXPECT_NE(source.find(".name\t= \"demo_dev\","), std::string::npos) << source;
  EXPECT_EQ(source.find("@NAME@"), std::string::npos);

  // Once more: nothing is overwritten, and the file is named.
  ASSERT_TRUE(write_file_atomic(dir / "demo_dev.c", "mine\n").ok());
  auto again = run({LABCTL_BINARY, "new", "demo_dev"}, tmp.path());
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("demo_dev/"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(*read_file(dir / "demo_dev.c"), "mine\n");
  // A DIR of one's own; a name that is no C identifier is bad input.
  EXPECT_EQ(run({LABCTL_BINARY, "new", "other", "sub/folder"}, tmp.path()).code, 0);
  EXPECT_TRUE(fs::is_regular_file(tmp.path() / "sub/folder/other.c"));
  auto bad = run({LABCTL_BINARY, "new", "Bad-Name"}, tmp.path());
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("'Bad-Name' is not a module name"), std::string::npos) << bad.err;
  // --help says what it creates.
  auto help = labctl({"new", "--help"});
  for (auto f : {"DIR/Kbuild", "DIR/Makefile", "DIR/@NAME@.c", "DIR/@NAME@.json"})
    EXPECT_NE(help.out.find(f), std::string::npos) << f << "\n" << help.out;
}

TEST(NewCommand, GeneratedModuleIsCheckpatchClean) {
  const fs::path source_tar = "/usr/src/linux-source-6.1.tar.xz"; // scripts/setup.sh
  ASSERT_TRUE(fs::exists(source_tar));
  TempDir tmp("labctl-new-style");
  auto tar =
      run({"tar", "-xJf", source_tar.string(), "-C", tmp.path().string(), "--strip-components=1",
           "linux-source-6.1/scripts/checkpatch.pl", "linux-source-6.1/scripts/spelling.txt",
           "linux-source-6.1/scripts/const_structs.checkpatch"});
  ASSERT_EQ(tar.code, 0) << tar.err;
  // The longest name labctl new takes, so the lines are as long as they get.
  std::string name = "a_twenty_char_name_x";
  ASSERT_EQ(run({LABCTL_BINARY, "new", name}, tmp.path()).code, 0);
  auto style = run({(tmp.path() / "scripts/checkpatch.pl").string(), "--no-tree", "-f", "--strict",
                    "--no-summary", "--color=never", (tmp.path() / name / (name + ".c")).string()});
  EXPECT_EQ(style.code, 0) << style.out << style.err;
  EXPECT_FALSE(std::regex_search(style.out, std::regex("(^|\n)(ERROR|WARNING|CHECK)")))
      << style.out;
  EXPECT_EQ(run({LABCTL_BINARY, "new", name + "y"}, tmp.path()).code, 2); // 21 characters
}

} // namespace
} // namespace labctl::e2e
