// The rows of the fault matrix (docs/faults.md) that need the real kernel: faults a
// scenario expects, found in a real guest and attributed to their steps.
#include "e2e_support.h"
#include "util/json_document.h"

#include <gtest/gtest.h>

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
