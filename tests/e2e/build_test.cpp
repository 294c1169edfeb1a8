// `labctl build` against the real Debian headers.
#include "e2e_support.h"

#include "util/json_document.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <poll.h>
#include <sys/wait.h>
#include <thread>

namespace labctl::e2e {
namespace {

using namespace std::chrono_literals;

class Build : public ::testing::Test {
protected:
  TempDir cache{"labctl-e2e-cache"};
  std::vector<std::pair<std::string, std::string>> env() const {
    return {{"LABCTL_CACHE_DIR", cache.path().string()}};
  }
};

TEST_F(Build, ShippedModulesBuildWithMatchingVermagic) {
  auto doctor = labctl({"doctor"});
  for (auto module : {"kmod/debugcon", "kmod/qemu_exercise"}) {
    auto r = labctl({"build", module}, env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string ko = r.out.substr(0, r.out.find('\n'));
    EXPECT_TRUE(ko.ends_with(".ko")) << ko;
    EXPECT_EQ(ko.rfind(cache.path().string(), 0), 0u) << "built outside the cache: " << ko;
    EXPECT_EQ(modinfo_field(ko, "license"), "GPL");
    std::string vermagic = modinfo_field(ko, "vermagic");
    // The kernel doctor reports is the one the module was built for.
    std::string kernel_line = doctor.out.substr(doctor.out.find("headers"));
    std::string release = kernel_line.substr(kernel_line.find("/lib/modules/") + 13);
    release = release.substr(0, release.find('/'));
    EXPECT_EQ(vermagic.substr(0, vermagic.find(' ')), release) << vermagic;
  }
}

TEST_F(Build, SecondBuildIsCachedAndSourceTreeStaysClean) {
  auto first = labctl({"build", "kmod/debugcon"}, env());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = labctl({"-v", "build", "kmod/debugcon"}, env());
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(first.out, second.out);
  EXPECT_EQ(second.err.find("spawn: make"), std::string::npos) << "the cached build ran make";
  EXPECT_NE(second.err.find("was cached"), std::string::npos) << second.err;
  for (const auto& entry : fs::recursive_directory_iterator(source_dir() / "kmod"))
    EXPECT_FALSE(entry.path().extension() == ".o" || entry.path().extension() == ".ko" ||
                 entry.path().filename() == "Module.symvers")
        << "build product in the source tree: " << entry.path();
}

TEST_F(Build, ChangedSourceRebuilds) {
  TempDir copy("labctl-e2e-mod");
  fs::copy(source_dir() / "kmod/debugcon", copy.path(), fs::copy_options::recursive);
  auto first = labctl({"build", copy.path().string()}, env());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto c = copy.path() / "debugcon.c";
  ASSERT_TRUE(write_file_atomic(c, *read_file(c) + "\n/* changed */\n").ok());
  auto second = labctl({"-v", "build", copy.path().string()}, env());
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(first.out, second.out);
  EXPECT_NE(second.err.find("spawn: make"), std::string::npos);
}

TEST_F(Build, CompileErrorPointsAtTheUsersFile) {
  auto r = labctl({"build", "tests/kmod/broken"}, env());
  EXPECT_EQ(r.exit_code, 1);
  std::string where = (source_dir() / "tests/kmod/broken/broken.c").string() + ":12:";
  EXPECT_NE(r.err.find(where), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("error:"), std::string::npos);
  EXPECT_EQ(r.err.find(cache.path().string() + "/modules/"), std::string::npos)
      << "compiler output still names the cache copy:\n"
      << r.err;
}

TEST_F(Build, MissingHeadersIsEnvironmentError) {
  TempDir dir("labctl-e2e-prof");
  auto profile = dir.path() / "p.json";
  ASSERT_TRUE(write_file_atomic(profile, R"({"kernel": "9.9.9-nothere"})").ok());
  auto r = labctl({"--profile", profile.string(), "build", "kmod/debugcon"}, env());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("apt-get install"), std::string::npos) << r.err;
}

TEST_F(Build, MissingFolderIsBadInput) {
  auto r = labctl({"build", "no/such/module"}, env());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no/such/module"), std::string::npos) << r.err;
}

// --- paths make must take literally -------------------------------------------------------

TEST_F(Build, CachePathWithBlanksOrMakeSyntaxBuildsAndRunsNothingFromIt) {
  TempDir dir("labctl-e2e-paths");
  auto pwned = dir.path() / "pwned";
  struct Case {
    Env env;
    fs::path cache; // where the .ko must end up
  };
  auto home = dir.path() / "my home";
  auto xdg = dir.path() / fmt::format("x $(shell touch {}) y", pwned.string());
  auto own = dir.path() / fmt::format("a b/$(shell touch {})", pwned.string());
  std::vector<Case> cases = {
      {{{"HOME", home.string()}, {"XDG_CACHE_HOME", ""}, {"LABCTL_CACHE_DIR", ""}},
       home / ".cache/labctl"},
      {{{"XDG_CACHE_HOME", xdg.string()}, {"LABCTL_CACHE_DIR", ""}}, xdg / "labctl"},
      {{{"LABCTL_CACHE_DIR", own.string()}}, own},
  };
  for (const auto& c : cases) {
    auto r = labctl({"build", "kmod/debugcon"}, c.env);
    ASSERT_EQ(r.exit_code, 0) << c.cache << "\n" << r.err;
    std::string ko = r.out.substr(0, r.out.find('\n'));
    EXPECT_EQ(ko.rfind(c.cache.string() + "/modules/", 0), 0u) << ko;
    EXPECT_TRUE(ko.ends_with(".ko")) << ko;
    EXPECT_EQ(modinfo_field(ko, "license"), "GPL");
    EXPECT_FALSE(fs::exists(pwned)) << "make ran $(shell …) from the cache path " << c.cache;
  }
  // Compiler output from such a copy still names the user's file, not the name make saw.
  auto broken = labctl({"build", "tests/kmod/broken"}, cases[2].env);
  EXPECT_EQ(broken.exit_code, 1) << broken.err;
  EXPECT_NE(broken.err.find((source_dir() / "tests/kmod/broken/broken.c").string() + ":12:"),
            std::string::npos)
      << broken.err;
  EXPECT_EQ(broken.err.find("/proc/"), std::string::npos) << broken.err;
  EXPECT_FALSE(fs::exists(pwned));
}

// --- signals during the build --------------------------------------------------------------

// labctl started in the background; a thread collects its output.
class Background {
public:
  explicit Background(std::unique_ptr<Process> process) : m_process(std::move(process)) {
    m_reader = std::thread([this] {
      int fds[2] = {m_process->stdout_fd(), m_process->stderr_fd()};
      std::string* sinks[2] = {&m_out, &m_err};
      while (fds[0] >= 0 || fds[1] >= 0) {
        pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        if (::poll(p, 2, 1000) < 0 && errno != EINTR)
          return;
        for (int i = 0; i < 2; ++i) {
          if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
          char buf[65536];
          ssize_t n = ::read(fds[i], buf, sizeof buf);
          if (n > 0)
            sinks[i]->append(buf, static_cast<size_t>(n));
          else if (n == 0 || errno != EINTR)
            fds[i] = -1;
        }
      }
    });
  }
  ~Background() {
    m_process->signal(SIGKILL);
    m_process->wait();
    if (m_reader.joinable())
      m_reader.join();
  }
  pid_t pid() const { return m_process->pid(); }
  // The run's result once labctl exits within `timeout` (exit_code -1 if it did not).
  LabctlRun finish(std::chrono::seconds timeout) {
    auto status = m_process->wait_for(timeout);
    if (!status)
      return {};
    m_reader.join();
    return {status->code, m_out, m_err};
  }

private:
  std::unique_ptr<Process> m_process;
  std::thread m_reader;
  std::string m_out, m_err;
};

bool wait_for_file(const fs::path& path, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::error_code ec;
  while (!fs::exists(path, ec)) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// The live (not zombie) processes of process group `pgid`.
std::vector<pid_t> group_members(pid_t pgid) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    auto stat = read_file(entry.path() / "stat");
    if (!stat)
      continue;
    auto paren = stat->rfind(')');
    if (paren == std::string::npos)
      continue;
    char state = 0;
    int ppid = 0, pgrp = 0;
    if (std::sscanf(stat->c_str() + paren + 2, "%c %d %d", &state, &ppid, &pgrp) == 3 &&
        pgrp == pgid && state != 'Z')
      found.push_back(std::stoi(name));
  }
  return found;
}

// Whether group `pgid` is gone within `bound`. A killed group is gone at once; the fake make's
// group would live 300 s, so the bound cannot decide the outcome.
bool group_gone_within(pid_t pgid, std::chrono::seconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!group_members(pgid).empty()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A `make` first in PATH that stands in for a slow kbuild: it writes into the build copy,
// starts a grandchild, announces "<its pid> <grandchild pid>" in <dir>/started and waits.
// With FAKE_MAKE_STUBBORN it and the grandchild ignore SIGTERM (only SIGKILL ends them). A
// `qemu` beside it records each boot in <dir>/qemu-launched and runs the fake QEMU.
class BuildSignal : public ::testing::Test {
protected:
  TempDir dir{"labctl-e2e-bsig"};
  fs::path shim = dir.path() / "bin";
  fs::path tmp = dir.path() / "tmp"; // labctl's TMPDIR: must be empty afterwards
  fs::path started = dir.path() / "started";
  fs::path launched = dir.path() / "qemu-launched";

  void SetUp() override {
    fs::create_directories(shim);
    fs::create_directories(tmp);
    write_script(shim / "make", R"(#!/bin/sh
[ -n "$FAKE_MAKE_STUBBORN" ] && trap '' TERM
for a; do case "$a" in M=*) m="${a#M=}";; esac; done
touch "$m/half.o"
sleep 300 &
echo "$$ $!" > "$FAKE_MAKE_DIR/pids" && mv "$FAKE_MAKE_DIR/pids" "$FAKE_MAKE_DIR/started"
wait
)");
    write_script(shim / "qemu", fmt::format(R"(#!/bin/sh
case " $* " in *" -kernel "*) touch "$FAKE_MAKE_DIR/qemu-launched";; esac
exec {} "$@"
)",
                                            (tests_dir() / "fake_qemu/fake-qemu").string()));
  }
  void TearDown() override {
    std::error_code ec;
    for (const auto& left : fs::directory_iterator(tmp, ec))
      ADD_FAILURE() << "left behind in TMPDIR: " << left.path();
  }
  static void write_script(const fs::path& path, const std::string& text) {
    ASSERT_TRUE(write_file_atomic(path, text).ok());
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  }
  Env env(const fs::path& cache, Env extra = {}) const {
    const char* path = std::getenv("PATH");
    extra.emplace_back("PATH", shim.string() + ":" + (path ? path : "/usr/bin:/bin"));
    extra.emplace_back("LABCTL_CACHE_DIR", cache.string());
    extra.emplace_back("FAKE_MAKE_DIR", dir.path().string());
    extra.emplace_back("TMPDIR", tmp.string());
    return extra;
  }
  std::unique_ptr<Background> start(std::vector<std::string> args, const Env& environment) {
    args.insert(args.begin(), LABCTL_BINARY);
    auto child = spawn({.argv = args, .cwd = source_dir(), .env = environment});
    EXPECT_TRUE(child.ok()) << (child.ok() ? "" : child.error().message);
    return child ? std::make_unique<Background>(std::move(*child)) : nullptr;
  }
  // The fake make's pid (its process group: labctl starts make in a group of its own).
  pid_t make_group() const {
    auto pids = read_file(started);
    return pids ? std::stoi(*pids) : -1;
  }
  // What labctl left in <cache>/modules besides the per-key lock files.
  static std::vector<std::string> cache_leftovers(const fs::path& cache) {
    std::vector<std::string> left;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(cache / "modules", ec))
      if (e.path().extension() != ".lock")
        left.push_back(e.path().filename().string());
    return left;
  }
};

TEST_F(BuildSignal, SigintSigtermOrSighupDuringMakeEndItsGroupAtOnceWithExit130AndNoCopyLeft) {
  for (bool stubborn : {false, true})
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      SCOPED_TRACE(
          fmt::format("{}{}", sigabbrev_np(sig), stubborn ? ", make ignores SIGTERM" : ""));
      fs::remove(started);
      auto cache = dir.path() / fmt::format("cache-{}-{}", sig, stubborn);
      Env extra;
      if (stubborn)
        extra.emplace_back("FAKE_MAKE_STUBBORN", "1");
      auto lab = start({"build", "kmod/debugcon"}, env(cache, extra));
      ASSERT_TRUE(lab);
      ASSERT_TRUE(wait_for_file(started, 120s)) << "the fake make never started";
      pid_t group = make_group();
      ASSERT_GT(group, 1);
      ASSERT_FALSE(group_members(group).empty());
      ::kill(lab->pid(), sig);
      auto r = lab->finish(120s); // make alone would take 300 s
      EXPECT_EQ(r.exit_code, 130) << r.err;
      EXPECT_NE(r.err.find("interrupted while building module"), std::string::npos) << r.err;
      EXPECT_TRUE(group_gone_within(group, 30s)) << "a process of make's group survived";
      EXPECT_TRUE(cache_leftovers(cache).empty()) << cache_leftovers(cache)[0];
    }
}

TEST_F(BuildSignal, SigintDuringTheBuildOfARunBootsNothing) {
  auto cache = dir.path() / "cache";
  auto profile = dir.path() / "profile.json";
  ASSERT_TRUE(write_file_atomic(profile, fmt::format(R"({{"qemu": "{}", "kernel": "auto",
      "boot": "bzimage", "accel": "tcg"}})",
                                                     (shim / "qemu").string()))
                  .ok());
  auto scenario = dir.path() / "s.json";
  ASSERT_TRUE(write_file_atomic(scenario, fmt::format(R"({{"modules": ["{}"],
      "steps": [{{"run": "true"}}]}})",
                                                      (source_dir() / "kmod/debugcon").string()))
                  .ok());
  auto artifacts = dir.path() / "artifacts";
  auto lab = start(
      {"--profile", profile.string(), "run", "--artifacts", artifacts.string(), scenario.string()},
      env(cache, {{"FAKE_QEMU_MODE", "ok"}}));
  ASSERT_TRUE(lab);
  ASSERT_TRUE(wait_for_file(started, 120s)) << "the fake make never started";
  pid_t group = make_group();
  ::kill(lab->pid(), SIGINT);
  auto r = lab->finish(120s);
  EXPECT_EQ(r.exit_code, 130) << r.out << r.err;
  EXPECT_NE(r.out.find("interrupted while building module"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("during boot"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(launched)) << "QEMU was started after the interrupt";
  EXPECT_TRUE(group_gone_within(group, 30s));
  EXPECT_TRUE(cache_leftovers(cache).empty()) << cache_leftovers(cache)[0];
  auto result = read_file(artifacts / "s/result.json");
  ASSERT_TRUE(result.ok());
  EXPECT_NE(result->find("\"exit_code\": 130"), std::string::npos) << *result;
}

TEST_F(BuildSignal, CopyLeftByAKilledLabctlIsRemovedByTheNextBuild) {
  auto cache = dir.path() / "cache";
  // Another module, built for real beforehand: the cleaning build below is a cache hit.
  Env real = {{"LABCTL_CACHE_DIR", cache.string()}, {"TMPDIR", tmp.string()}};
  ASSERT_EQ(labctl({"build", "kmod/qemu_exercise"}, real).exit_code, 0);
  auto lab = start({"build", "kmod/debugcon"}, env(cache));
  ASSERT_TRUE(lab);
  ASSERT_TRUE(wait_for_file(started, 120s)) << "the fake make never started";
  pid_t group = make_group();
  ::kill(lab->pid(), SIGKILL);
  EXPECT_EQ(lab->finish(60s).exit_code, -1); // killed by a signal
  // make dies with labctl (PR_SET_PDEATHSIG); its grandchild does not: end it here.
  auto pids = read_file(started);
  ASSERT_TRUE(pids.ok());
  pid_t make = std::stoi(*pids);
  auto make_alive = [&] {
    auto members = group_members(group);
    return std::find(members.begin(), members.end(), make) != members.end();
  };
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (make_alive() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(make_alive()) << "make outlived a labctl killed with SIGKILL";
  ::kill(-group, SIGKILL);
  ASSERT_TRUE(group_gone_within(group, 30s));
  auto left = cache_leftovers(cache);
  auto copies = std::count_if(left.begin(), left.end(), [](const std::string& name) {
    return name.find(".tmp.") != std::string::npos;
  });
  ASSERT_EQ(copies, 1) << "the killed labctl left no build copy to clean";
  // The next labctl, building another module that is cached, removes it.
  auto next = labctl({"-v", "build", "kmod/qemu_exercise"}, real);
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_NE(next.err.find("was cached"), std::string::npos) << next.err;
  for (const auto& name : cache_leftovers(cache))
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << "stale build copy kept: " << name;
}

// LDD3's `ccflags-y := -I$(PWD)/../include`, built from the repository root (not the
// module folder): kbuild sees the folder's PWD; the header outside the folder is an input
// of the cache, so a changed header rebuilds and a header with #error is refused.
TEST_F(Build, PwdIncludeBuildsFromAnotherFolderAndItsOutsideHeaderInvalidatesTheCache) {
  TempDir tree{"labctl-e2e-pwd"};
  fs::copy(source_dir() / "tests/kmod/pwd_include", tree.path(), fs::copy_options::recursive);
  const std::string module = (tree.path() / "module").string();
  const fs::path header = tree.path() / "include/pwd_include.h";
  auto first = labctl({"build", module}, env());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto cached = labctl({"-v", "build", module}, env());
  ASSERT_EQ(cached.exit_code, 0) << cached.err;
  EXPECT_NE(cached.err.find("was cached"), std::string::npos) << cached.err;

  ASSERT_TRUE(write_file_atomic(header, "#define PWD_INCLUDE_GREETING \"changed\"\n").ok());
  auto rebuilt = labctl({"-v", "build", module}, env());
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
  EXPECT_NE(rebuilt.err.find("changed; building again"), std::string::npos) << rebuilt.err;
  EXPECT_NE(rebuilt.err.find("built (key"), std::string::npos) << rebuilt.err;

  ASSERT_TRUE(write_file_atomic(header, "#error stale header\n").ok());
  auto refused = labctl({"build", module}, env());
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  // The first line after the headline is the error at the user's header, not a chain.
  std::string second_line = refused.err.substr(refused.err.find('\n') + 1);
  EXPECT_TRUE(second_line.starts_with(module + "/../include/pwd_include.h:1:2: error: #error"))
      << refused.err;
  for (const auto& entry : fs::directory_iterator(module))
    EXPECT_FALSE(entry.path().extension() == ".o" || entry.path().extension() == ".ko")
        << "build output in the source folder: " << entry.path();
}

TEST_F(Build, WarningsOfASuccessfulBuildAreShownAtTheUsersLineAndKeptWhenCached) {
  for (int run = 0; run < 2; ++run) {
    auto r = labctl({"build", "tests/kmod/warning"}, env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find((source_dir() / "tests/kmod/warning/warning.c").string() +
                         ":12:13: warning: unused variable"),
              std::string::npos)
        << "run " << run << ": " << r.err;
    EXPECT_EQ(r.err.find("CC [M]"), std::string::npos) << r.err;
  }
}

// A client folder links against the bus folder's EXPORT_SYMBOL through --with.
TEST_F(Build, WithPassesTheOtherFoldersModuleSymvers) {
  auto alone = labctl({"build", "tests/kmod/stack_client"}, env());
  EXPECT_EQ(alone.exit_code, 1);
  EXPECT_NE(alone.err.find("stack_bus_register"), std::string::npos) << alone.err;
  auto with = labctl({"build", "tests/kmod/stack_client", "--with", "tests/kmod/stack_bus"}, env());
  ASSERT_EQ(with.exit_code, 0) << with.err;
  EXPECT_TRUE(with.out.ends_with("stack_client.ko\n")) << with.out;
  EXPECT_EQ(with.out.find("stack_bus.ko"), std::string::npos) << with.out;
  EXPECT_NE(modinfo_field(with.out.substr(0, with.out.size() - 1), "depends").find("stack_bus"),
            std::string::npos);
}

// Both folders build twin.ko: the guest's /lib/modules/<release>/extra holds one, so the
// scenario is bad input, refused after kbuild and before QEMU starts.
TEST_F(Build, TwoFoldersBuildingTheSameModuleNameAreRefusedBeforeBooting) {
  TempDir artifacts("labctl-e2e-art");
  auto r = labctl(
      {"run", "--artifacts", artifacts.path().string(), "tests/scenarios/modules-same-name.json"},
      env());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  std::string line = "module folders tests/scenarios/../kmod/twin_a and "
                     "tests/scenarios/../kmod/twin_b both build a module named 'twin'; the guest "
                     "can hold only one (rename one in its Kbuild)\n";
  EXPECT_NE(r.out.find(line), std::string::npos) << r.out << r.err;
  EXPECT_FALSE(fs::exists(artifacts.path() / "modules-same-name" / "console.log"))
      << "QEMU was started";
}

// labctl initrd assembles what run boots: the profile's kernel_modules (it used to drop them),
// the scenario's modules under /lib/modules/<release>/extra with the modules.dep depmod made.
TEST_F(Build, InitrdPacksTheProfilesKernelModulesAndAModulesDep) {
  TempDir dir("labctl-e2e-initrd");
  auto profile = dir.path() / "p.json";
  ASSERT_TRUE(write_file_atomic(profile, R"({"kernel_modules": ["vfat"]})").ok());
  auto out = dir.path() / "initrd.cpio";
  auto r = labctl({"--profile", profile.string(), "initrd", "--list", "-o", out.string(),
                   "tests/scenarios/modules-dep.json"},
                  env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out));
  EXPECT_NE(r.out.find("/kernel/fs/fat/fat.ko\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(" /lib/modules/kernel/"), std::string::npos) << r.out;
  for (auto name : {"amid.ko", "zbase.ko", "stack_bus.ko", "stack_client.ko"}) {
    auto at = r.out.find(std::string("/extra/") + name + "\n");
    EXPECT_NE(at, std::string::npos) << name << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("/modules.dep\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("/lib/labctl/modules"), std::string::npos) << r.out;
}

// A module whose .modinfo depends on a module the kernel does not have (here: a kernel whose
// modules.dep lacks videodev, as one built without CONFIG_VIDEO_DEV) fails before boot with
// one line naming the .ko, its folder and the missing name; QEMU is never started.
TEST_F(Build, AModuleDependingOnAModuleTheKernelLacksFailsBeforeBootNamingBoth) {
  std::string release;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/lib/modules", ec)) {
    std::string v = entry.path().filename().string();
    if (fs::exists("/boot/vmlinuz-" + v, ec) && fs::is_directory(entry.path() / "build", ec) &&
        v > release)
      release = v;
  }
  ASSERT_FALSE(release.empty()) << "no kernel with headers";
  TempDir dir("labctl-e2e-kdeps");
  fs::path modules = dir.path() / "modules";
  fs::create_directories(modules);
  ASSERT_TRUE(write_file_atomic(modules / "modules.dep", "kernel/drivers/media/mc/mc.ko:\n").ok());
  auto profile = dir.path() / "p.json";
  ASSERT_TRUE(write_file_atomic(profile, "{\"kernel\": {\"image\": \"/boot/vmlinuz-" + release +
                                             "\", \"build\": \"/lib/modules/" + release +
                                             "/build\", \"modules\": \"" + modules.string() +
                                             "\"}}")
                  .ok());
  TempDir artifacts("labctl-e2e-art");
  auto r = labctl({"--profile", profile.string(), "run", "--artifacts", artifacts.path().string(),
                   "tests/scenarios/kernel-dep.json"},
                  env());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  std::string line = "module kdep_v4l2.ko (folder tests/scenarios/../kmod/kernel_dep) depends on "
                     "'videodev' (its .modinfo depends), which kernel " +
                     release + " has neither as a module (" + (modules / "modules.dep").string() +
                     ") nor built in; add the folder that builds 'videodev' to the scenario's "
                     "modules, or boot a kernel that has it\n";
  EXPECT_NE((r.out + r.err).find(line), std::string::npos) << r.out << r.err;
  EXPECT_FALSE(fs::exists(artifacts.path() / "kernel-dep" / "console.log")) << "QEMU was started";

  // A profile that names no modules directory leaves nothing to look the name up in: the
  // environment, exit 3, naming the .ko and the profile.
  ASSERT_TRUE(write_file_atomic(profile, "{\"kernel\": {\"image\": \"/boot/vmlinuz-" + release +
                                             "\", \"build\": \"/lib/modules/" + release +
                                             "/build\"}}")
                  .ok());
  auto without = labctl({"--profile", profile.string(), "run", "--artifacts",
                         artifacts.path().string(), "tests/scenarios/kernel-dep.json"},
                        env());
  EXPECT_EQ(without.exit_code, 3) << without.out << without.err;
  EXPECT_NE((without.out + without.err)
                .find("module kdep_v4l2.ko (folder tests/scenarios/../kmod/kernel_dep) depends on "
                      "kernel modules, and " +
                      profile.string() + " names no modules directory for kernel " + release +
                      " (kernel.modules) to find them in"),
            std::string::npos)
      << without.out << without.err;
}

// Whether a folder builds the module a params key or load entry names is known after
// kbuild; a wrong name is still bad input with its file:line and key, and nothing boots.
TEST_F(Build, ParamsOrLoadNamingAModuleTheFolderDoesNotBuildIsBadInput) {
  TempDir dir("labctl-e2e-params");
  std::string chain = (source_dir() / "tests/kmod/dep_chain").string();
  auto s = dir.path() / "s.json";
  struct Case {
    std::string module, message;
  };
  for (const auto& c :
       std::vector<Case>{{R"("params": {"zbase": "level=7",
    "amidd": "x=1"})",
                          s.string() + ":3: key 'amidd': " + chain +
                              " builds no module 'amidd' (it builds zbase, amid)"},
                         {R"("load": ["zbase",
    "zbas"])",
                          s.string() + ":3: key 'load': entry 2: " + chain +
                              " builds no module 'zbas' (it builds zbase, amid)"},
                         {R"("params": "level=7")", s.string() + ":2: key 'params': " + chain +
                                                        " builds 2 modules (zbase, amid); give "
                                                        "params per module"}}) {
    ASSERT_TRUE(write_file_atomic(s, "{\"modules\": [{\"path\": \"" + chain + "\",\n    " +
                                         c.module + "}]}")
                    .ok());
    auto r = labctl({"run", "--artifacts", (dir.path() / "art").string(), s.string()}, env());
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << c.message << "\n" << r.out;
    EXPECT_FALSE(fs::exists(dir.path() / "art/s/console.log")) << "QEMU was started";
  }
}

// A build warning is kept in result.json; "warnings": "error" fails the scenario on it (exit
// 1, like a module that does not compile) before QEMU starts.
TEST_F(Build, WarningsGoToResultJsonAndWarningsErrorFailsBeforeBooting) {
  TempDir artifacts("labctl-e2e-art");
  auto r = labctl(
      {"run", "--artifacts", artifacts.path().string(), "tests/scenarios/warnings-error.json"},
      env());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  std::string where =
      (source_dir() / "tests/kmod/warning/warning.c").string() + ":12:13: warning: unused variable";
  EXPECT_NE(r.out.find("module tests/scenarios/../kmod/warning built with warnings (the scenario "
                       "says \"warnings\": \"error\")"),
            std::string::npos)
      << r.out;
  // Under the FAIL line, once, at the user's file:line.
  auto block = r.out.find("  module tests/scenarios/../kmod/warning built with warnings:\n    | ");
  EXPECT_NE(block, std::string::npos) << r.out;
  EXPECT_GT(block, r.out.find("FAIL  warnings-error")) << r.out;
  EXPECT_NE(r.out.find(where), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(where), r.out.rfind(where)) << r.out;
  EXPECT_FALSE(fs::exists(artifacts.path() / "warnings-error" / "console.log"))
      << "QEMU was started";
  auto result = read_file(artifacts.path() / "warnings-error" / "result.json");
  ASSERT_TRUE(result.ok());
  auto json = Json::parse(*result);
  const auto& scenario = json.at("scenarios").at(0);
  EXPECT_EQ(scenario.at("verdict"), "failed");
  ASSERT_EQ(scenario.at("build_warnings").size(), 1u) << *result;
  EXPECT_EQ(scenario.at("build_warnings")[0].at("module"), "tests/scenarios/../kmod/warning");
  EXPECT_NE(scenario.at("build_warnings")[0].at("warnings").get<std::string>().find(where),
            std::string::npos)
      << *result;
  EXPECT_EQ(report_schema_problems(artifacts.path() / "warnings-error" / "result.json"), "");
}

} // namespace
} // namespace labctl::e2e
