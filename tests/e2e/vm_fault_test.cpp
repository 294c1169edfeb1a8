// The rows of the fault matrix (docs/faults.md) that need the real kernel: faults a
// scenario expects, found in a real guest and attributed to their steps.
#include "e2e_support.h"
#include "host/kernel_locator.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <regex>

namespace labctl::e2e {
namespace {

class VmFaults : public ::testing::Test {
protected:
  TempDir artifacts{"labctl-e2e-vmfaults"};
  void TearDown() override {
    EXPECT_EQ(qemu_processes_using(artifacts.path().string()), 0)
        << "a QEMU process outlived the run";
  }
};

TEST_F(VmFaults, ExpectedWarningAndBugAreFoundAndTheRunPasses) {
  auto r = labctl(
      {"run", "--artifacts", artifacts.path().string(), "tests/scenarios/faults-expected.json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(report_schema_problems(artifacts.path() / "faults-expected" / "result.json"), "");
  auto result = read_file(artifacts.path() / "faults-expected" / "result.json");
  ASSERT_TRUE(result.ok());
  auto json = Json::parse(*result);
  const auto& faults = json["scenarios"][0]["faults"];
  ASSERT_EQ(faults.size(), 2u) << faults.dump(2);
  EXPECT_EQ(faults[0]["kind"], "warning");
  EXPECT_EQ(faults[0]["phase"], "step");
  EXPECT_EQ(faults[0]["step_index"], 1);
  EXPECT_EQ(faults[0]["step"], "echo warn > /dev/labctl_fault");
  EXPECT_EQ(faults[1]["kind"], "bug");
  EXPECT_NE(faults[1]["title"].get<std::string>().find("kernel BUG at"), std::string::npos);
  EXPECT_EQ(faults[1]["phase"], "step");
  EXPECT_EQ(faults[1]["step_index"], 2);
  EXPECT_EQ(faults[1]["step"], "sh -c 'echo bug > /dev/labctl_fault'");
  EXPECT_TRUE(fs::exists(artifacts.path() / "faults-expected" / "faults.txt"));
}

// The line of tests/kmod/oops_line/oops_line.c that holds `marker`, from 1.
int oops_line_of(const std::string& marker) {
  auto text = read_file(source_dir() / "tests/kmod/oops_line/oops_line.c");
  EXPECT_TRUE(text.ok());
  size_t at = text.ok() ? text->find(marker) : std::string::npos;
  EXPECT_NE(at, std::string::npos) << marker;
  return at == std::string::npos
             ? 0
             : static_cast<int>(
                   std::count(text->begin(), text->begin() + static_cast<long>(at), '\n')) +
                   1;
}

TEST_F(VmFaults, OopsAtAKnownLineIsNamedByFileAndLineOnEveryKernel) {
  fs::path json = artifacts.path() / "report.json";
  auto r =
      labctl({"run", "--kernel", "all", "--keep-going", "--artifacts", artifacts.path().string(),
              "--json", json.string(), "tests/scenarios/oops-line.json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(report_schema_problems(json), "");
  int store = oops_line_of("oops_line: the store");
  int call = oops_line_of("oops_line: the call");
  std::string file = "tests/kmod/oops_line/oops_line.c";
  // The headline, then the user's frame with file:line (the e2e runs in the source folder),
  // then where the whole report is.
  std::string inlined = fmt::format("    oops_line_store  {}:{} (inlined into oops_line_write)\n"
                                    "    oops_line_write  {}:{}  (oops_line_write+0x",
                                    file, store, file, call);
  auto text = read_file(json);
  ASSERT_TRUE(text.ok());
  Json j = Json::parse(*text);
  ASSERT_GE(j["scenarios"].size(), 2u) << "one result per installed kernel";
  size_t shown = 0;
  for (size_t at = 0; (at = r.out.find(inlined, at)) != std::string::npos; ++at)
    ++shown;
  EXPECT_EQ(shown, j["scenarios"].size()) << r.out;
  for (const Json& scenario : j["scenarios"]) {
    fs::path folder = scenario["artifacts"].get<std::string>();
    std::string headline = "BUG: kernel NULL pointer dereference";
    size_t title = r.out.find(headline);
    size_t frames = r.out.find(inlined, title);
    size_t full = r.out.find("    full report: " + (folder / "faults.txt").string(), frames);
    EXPECT_TRUE(title != std::string::npos && frames != std::string::npos &&
                full != std::string::npos)
        << r.out;
    ASSERT_GE(scenario["faults"].size(), 1u) << scenario.dump(2);
    const Json& fault = scenario["faults"][0];
    EXPECT_EQ(fault["kind"], "oops");
    const Json* rip = nullptr;
    for (const Json& f : fault["frames"])
      if (f["exact"] == true && f["module"] == "oops_line")
        rip = &f;
    ASSERT_NE(rip, nullptr) << fault.dump(2);
    EXPECT_EQ((*rip)["user"], true);
    EXPECT_EQ((*rip)["function"], "oops_line_write");
    const Json& source = (*rip)["source"];
    ASSERT_EQ(source.size(), 2u) << rip->dump(2);
    EXPECT_EQ(source[0]["function"], "oops_line_store");
    EXPECT_EQ(source[0]["file"], (source_dir() / file).string());
    EXPECT_EQ(source[0]["line"], store);
    EXPECT_EQ(source[1]["function"], "oops_line_write");
    EXPECT_EQ(source[1]["file"], (source_dir() / file).string());
    EXPECT_EQ(source[1]["line"], call);
    // The kernel's frames stay as they are without a debug vmlinux.
    if (!fs::exists(debian_debug_vmlinux(scenario["kernel"].get<std::string>()))) {
      for (const Json& f : fault["frames"]) {
        if (f["module"] == "") {
          EXPECT_TRUE(f["source"].empty()) << f.dump();
        }
      }
    }
    auto faults = read_file(folder / "faults.txt");
    ASSERT_TRUE(faults.ok());
    EXPECT_NE(faults->find(fmt::format("  oops_line_store  {}:{} (inlined into oops_line_write)",
                                       (source_dir() / file).string(), store)),
              std::string::npos)
        << *faults;
    EXPECT_NE(faults->find("Call Trace:"), std::string::npos) << "the whole report stays there";
  }
}

// What a step can do to the control channel by accident or on purpose (issue 10): none of
// it may corrupt an answer, and a step cannot forge one.
class GuestChannel : public ::testing::Test {
protected:
  TempDir dir{"labctl-e2e-channel"};
  fs::path artifacts = dir.path() / "artifacts";
  LabctlRun run(const std::string& name, const std::string& json) {
    auto scenario = dir.path() / (name + ".json");
    EXPECT_TRUE(write_file_atomic(scenario, json).ok());
    return labctl({"run", "--artifacts", artifacts.string(), scenario.string()});
  }
  void TearDown() override {
    EXPECT_EQ(qemu_processes_using(dir.path().string()), 0) << "a QEMU process outlived the run";
  }
};

// The guest side of the shell snippets below: the agent is the parent of the subshell that
// started the step, found through /proc with builtins only.
constexpr const char* k_find_agent =
    "read -r _ _ _ w _ </proc/$$/stat; read -r _ _ _ agent _ </proc/$w/stat; ";

TEST_F(GuestChannel, JunkWrittenToTheControlTtyCannotHideOrCorruptAnswers) {
  auto r = run("junk", fmt::format(R"J({{"steps": [
    {{"run": "[ ! -e /dev/ttyS1 ] && ls -l /run/labctl/ctl | cut -c1-10", "stdout": "crw-------"}},
    {{"run": "printf junk > /dev/ttyS1; echo ok; rm -f /dev/ttyS1", "stdout": "ok"}},
    {{"run": "{}n=0; for fd in /proc/$agent/fd/*; do [ \"$(readlink $fd)\" = /run/labctl/ctl ] || continue; printf 'junk without newline =' >$fd; n=$((n + 1)); done; echo \"after $n\"; exit 7",
      "exit": 7, "stdout": "after 2"}},
    {{"run": "echo next", "stdout": "next"}}
  ]}})J",
                                   k_find_agent));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
}

TEST_F(GuestChannel, RemovingEverythingUnderTmpBreaksNoLaterStep) {
  auto r = run("rmtmp", R"J({"steps": [
    {"run": "touch /tmp/mine; rm -rf /tmp/* /tmp/.[!.]*; ls -A /tmp | wc -l", "stdout": "0"},
    {"run": "echo out; echo err >&2; exit 4", "exit": 4, "stdout": "out", "stderr": "err"},
    {"run": "echo still working", "stdout": "still working"}
  ]})J");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(GuestChannel, StepFindsNoNonceAndCannotForgeAPass) {
  // Everything of the step that could hold its request nonce. The only 16-hex-digit word
  // allowed in it is the boot nonce (it is on the kernel command line, which steps may see).
  auto r = run("nonce", fmt::format(R"J({{"steps": [
    {{"run": "echo \"$0 $*\"; env; p=$$; while [ $p -gt 1 ]; do tr '\\000' ' ' </proc/$p/cmdline; echo; tr '\\000' '\\n' </proc/$p/environ; read -r _ _ _ p _ </proc/$p/stat; done; ls -A /run/labctl /run/labctl/steps",
      "stdout_regex": "steps"}},
    {{"run": "{}n=$(basename $0 .c); printf '\\n=%s=O=00000000\\n=%s=E=00000000\\n=%s=K=\\n=%s=X=0=-\\n' $n $n $n $n >/proc/$agent/fd/1; exit 7",
      "exit": 7}}
  ]}})J",
                                    k_find_agent));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto cmdline = read_file(artifacts / "nonce" / "qemu.cmdline");
  ASSERT_TRUE(cmdline.ok());
  std::smatch boot;
  ASSERT_TRUE(std::regex_search(*cmdline, boot, std::regex("labctl\\.boot=([0-9a-f]{16})")));
  auto result = read_file(artifacts / "nonce" / "result.json");
  ASSERT_TRUE(result.ok());
  auto json = Json::parse(*result);
  std::string seen = json["scenarios"][0]["steps"][0]["stdout"].get<std::string>();
  EXPECT_NE(seen.find("/run/labctl/steps/1.c"), std::string::npos) << seen;
  std::regex hex("[0-9a-f]{16}");
  for (auto it = std::sregex_iterator(seen.begin(), seen.end(), hex); it != std::sregex_iterator();
       ++it)
    EXPECT_EQ(it->str(), boot[1].str()) << "a request nonce is visible to the step:\n" << seen;
}

TEST_F(GuestChannel, AgentKilledByAStepIsNamedAndNotCalledAHang) {
  auto r = run("agent", fmt::format(R"J({{"steps": [
    {{"run": "{}kill -9 $agent; sleep 3", "timeout": 30}}
  ]}})J",
                                    k_find_agent));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("the guest agent died (killed by signal 9; init restarts it)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("init restarts it"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("may be hung"), std::string::npos) << r.out;
}

} // namespace
} // namespace labctl::e2e
