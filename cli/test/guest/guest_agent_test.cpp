// initrd/agent.sh run on the host under busybox sh (the same static binary the guest
// gets), spoken to through pipes and decoded by ResponseDecoder: the protocol end to end
// without booting a kernel. Skipped where busybox is not installed.

#include "guest/guest_protocol.h"
#include "vm/gdb_script.h"

#include "test_support.h"
#include "util/process.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>

namespace labctl {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class GuestAgent : public ::testing::Test {
protected:
  void SetUp() override {
    m_busybox = find_program("busybox");
    if (m_busybox.empty())
      GTEST_SKIP() << "busybox is not installed";
    m_dir.mkdir("run");
    m_dir.write("run/kmsg", "");
    ProcessSpec spec;
    spec.argv = {m_busybox.string(), "sh", std::string(LABCTL_SOURCE_DIR) + "/initrd/agent.sh"};
    spec.env = {{"LABCTL_AGENT_RUN", (m_dir.path() / "run").string()},
                {"LABCTL_AGENT_SYS", (m_dir.path() / "sys").string()}};
    spec.in = Stream::pipe;
    spec.err = Stream::null;
    spec.own_process_group = true;
    auto agent = spawn(spec);
    ASSERT_TRUE(agent.ok()) << agent.error().message;
    m_agent = std::move(*agent);
  }

  // Send one request and decode its answer (a failed decoder or a timeout fails the test).
  StepOutput request(std::string_view verb, std::string_view command = {}, int timeout_s = 10,
                     std::chrono::seconds wait = 30s) {
    m_nonce = make_nonce();
    const std::string& nonce = m_nonce;
    std::string line = encode_request(verb, nonce, timeout_s, command);
    for (size_t sent = 0; sent < line.size();) {
      ssize_t n = ::write(m_agent->stdin_fd(), line.data() + sent, line.size() - sent);
      if (n <= 0) {
        ADD_FAILURE() << "the agent stopped reading";
        return {};
      }
      sent += static_cast<size_t>(n);
    }
    ResponseDecoder decoder(nonce);
    if (verb == "RUN")
      decoder.require_streams();
    auto deadline = Clock::now() + wait;
    char buffer[65536];
    while (!decoder.done() && !decoder.failed() && Clock::now() < deadline) {
      pollfd pfd{m_agent->stdout_fd(), POLLIN, 0};
      if (::poll(&pfd, 1, 100) <= 0)
        continue;
      ssize_t n = ::read(m_agent->stdout_fd(), buffer, sizeof buffer);
      if (n <= 0)
        break;
      decoder.feed(std::string_view(buffer, static_cast<size_t>(n)));
    }
    EXPECT_FALSE(decoder.failed()) << decoder.error();
    EXPECT_TRUE(decoder.done()) << "no answer to " << verb;
    m_last_seconds = std::chrono::duration<double>(Clock::now() - deadline + wait).count();
    return decoder.take();
  }

  void append_kmsg(const std::string& text) {
    std::ofstream(m_dir.path() / "run/kmsg", std::ios::app) << text;
  }

  std::filesystem::path m_busybox;
  test::ScratchDir m_dir;
  std::unique_ptr<Process> m_agent;
  double m_last_seconds = 0;
  std::string m_nonce; // of the last request
};

TEST_F(GuestAgent, ExitCodesAndSeparateStreams) {
  auto ok = request("RUN", "true");
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.out, "");
  EXPECT_EQ(ok.err, "");
  EXPECT_EQ(request("RUN", "exit 3").exit_code, 3);
  EXPECT_EQ(request("RUN", "printf abc").out, "abc");
  auto both = request("RUN", "echo out; echo err >&2; echo more");
  EXPECT_EQ(both.out, "out\nmore\n");
  EXPECT_EQ(both.err, "err\n");
  EXPECT_EQ(request("RUN", "pwd; echo $# $1").out, "/\n0\n");
}

TEST_F(GuestAgent, KilledBySignalIs128PlusN) {
  auto killed = request("RUN", "kill -9 $$");
  EXPECT_EQ(killed.exit_code, 137);
  EXPECT_EQ(killed.err, "") << "the wrapper's \"Killed\" must not land in the step's stderr";
}

TEST_F(GuestAgent, AnyBytesComeBack) {
  std::string escapes;
  for (int i = 0; i < 256; ++i)
    escapes += "\\" + std::to_string(i / 64) + std::to_string(i / 8 % 8) + std::to_string(i % 8);
  std::string expected;
  for (int i = 0; i < 256; ++i)
    expected += static_cast<char>(i);
  EXPECT_EQ(request("RUN", "printf '" + escapes + "'").out, expected);
  // Binary stdout larger than a pipe buffer, and stderr at the same time.
  auto big = request("RUN", "head -c 300000 /dev/zero | tr '\\0' '\\377'; echo e >&2");
  EXPECT_EQ(big.out, std::string(300000, '\xff'));
  EXPECT_EQ(big.err, "e\n");
}

TEST_F(GuestAgent, CommandTextOfAnySize) {
  // Short commands are decoded by the shell itself, long ones by the base64 applet.
  for (size_t size : {1, 100, 255, 256, 10 * 1024}) {
    std::string text(size, 'x');
    for (size_t i = 0; i < size; i += 7)
      text[i] = "'\"$`\\ \n"[i % 7];
    std::string command = "cat <<'LABCTL_END'\n" + text + "\nLABCTL_END";
    EXPECT_EQ(request("RUN", command).out, text + "\n") << size;
  }
}

TEST_F(GuestAgent, GuestTimeoutKillsTheStepAndKeepsItsOutput) {
  auto hung = request("RUN", "echo partial; echo partial-err >&2; sleep 1000", 1);
  EXPECT_TRUE(hung.guest_timed_out);
  EXPECT_EQ(hung.exit_code, 137);
  EXPECT_EQ(hung.out, "partial\n");
  EXPECT_EQ(hung.err, "partial-err\n");
  EXPECT_LT(m_last_seconds, 5);
  // The agent carries on.
  EXPECT_EQ(request("RUN", "echo next").out, "next\n");
}

TEST_F(GuestAgent, BackgroundProcessesDoNotHoldTheAnswer) {
  auto step = request("RUN", "sleep 3 & echo started");
  EXPECT_EQ(step.out, "started\n");
  EXPECT_LT(m_last_seconds, 2);
}

TEST_F(GuestAgent, KernelRecordsSinceThePreviousAnswer) {
  append_kmsg("6,1,100,-;before the first request\n");
  EXPECT_EQ(request("RUN", "true").kmsg,
            std::vector<std::string>{"6,1,100,-;before the first request"});
  EXPECT_TRUE(request("RUN", "true").kmsg.empty());
  append_kmsg("6,2,200,-;two\n6,3,300,-;three\n 6,4,400,-;half a rec");
  EXPECT_EQ(request("KMSG").kmsg, (std::vector<std::string>{"6,2,200,-;two", "6,3,300,-;three",
                                                            " 6,4,400,-;half a rec"}));
  append_kmsg("ord\n");
  EXPECT_EQ(request("KMSG").kmsg, std::vector<std::string>{"ord"});
}

TEST_F(GuestAgent, PartialRecordWaitsForItsEnd) {
  append_kmsg("6,5,500,-;written in two pie");
  EXPECT_TRUE(request("RUN", "true").kmsg.empty());
  append_kmsg("ces\n");
  EXPECT_EQ(request("RUN", "true").kmsg,
            std::vector<std::string>{"6,5,500,-;written in two pieces"});
}

TEST_F(GuestAgent, BadCommandTextRunsNothing) {
  // Not base64: the step never runs and the status is unknown.
  std::string nonce = make_nonce();
  std::string line = "RUN " + nonce + " 5 @@@@\n" + encode_request("KMSG", make_nonce());
  ASSERT_EQ(::write(m_agent->stdin_fd(), line.data(), line.size()),
            static_cast<ssize_t>(line.size()));
  ResponseDecoder decoder(nonce);
  char buffer[4096];
  while (!decoder.done() && !decoder.failed()) {
    ssize_t n = ::read(m_agent->stdout_fd(), buffer, sizeof buffer);
    ASSERT_GT(n, 0);
    decoder.feed(std::string_view(buffer, static_cast<size_t>(n)));
  }
  auto bad = decoder.take();
  EXPECT_EQ(bad.exit_code, -1);
  EXPECT_EQ(bad.end, StepEnd::not_run);
  EXPECT_NE(bad.err.find("not valid base64"), std::string::npos);
}

TEST_F(GuestAgent, StepCannotSeeItsNonce) {
  // Everything a step could look at without reading the agent's memory: its name ($0), its
  // arguments and environment, those of its parents, and the agent's folder.
  auto step = request("RUN", R"SH(echo "$0 $*"; env; tr '\0' ' ' </proc/self/cmdline
    p=$$
    while [ "$p" -gt 1 ]; do
      tr '\0' ' ' </proc/$p/cmdline; tr '\0' '\n' </proc/$p/environ
      read -r _ _ _ p _ </proc/$p/stat
    done
    ls -la "$(dirname "$0")" "$(dirname "$0")/..")SH");
  EXPECT_EQ(step.exit_code, 0) << step.err;
  EXPECT_NE(step.out.find("steps"), std::string::npos) << step.out; // it looked
  EXPECT_EQ(step.out.find(m_nonce), std::string::npos) << step.out;
  EXPECT_EQ(step.err.find(m_nonce), std::string::npos) << step.err;
}

TEST_F(GuestAgent, JunkWrittenToTheChannelDoesNotHideTheAnswer) {
  // The step reaches the agent's stdout (the control tty in a guest) through /proc and
  // writes a half line into it, then the agent answers: the answer must still be found.
  auto step = request("RUN", R"(read -r _ _ _ w _ </proc/$$/stat
    read -r _ _ _ agent _ </proc/$w/stat
    printf 'junk without a newline =' >/proc/$agent/fd/1
    echo after; exit 7)");
  EXPECT_EQ(step.exit_code, 7);
  EXPECT_EQ(step.out, "after\n");
  EXPECT_EQ(request("RUN", "echo next").out, "next\n");
}

TEST_F(GuestAgent, KilledWrapperIsALostStatusNotMinusOneUnexplained) {
  // The step kills the subshell that waits for it: nobody reports its status.
  auto step = request("RUN", "kill -9 $PPID; sleep 30", 1);
  EXPECT_EQ(step.exit_code, -1);
  EXPECT_EQ(step.end, StepEnd::lost);
  EXPECT_NE(unknown_exit_reason(step).find("lost"), std::string::npos);
  EXPECT_EQ(request("RUN", "echo next").out, "next\n");
}

TEST_F(GuestAgent, StepFilesLiveInTheAgentFolderAndSurviveItsRemoval) {
  auto where = request("RUN", "echo \"$0\"");
  EXPECT_EQ(where.out, (m_dir.path() / "run/steps/").string() + "1.c\n");
  request("RUN", "rm -rf \"$(dirname \"$0\")\"");
  EXPECT_EQ(request("RUN", "echo still").out, "still\n");
}

TEST_F(GuestAgent, SectionsVerbReadsEveryDottedSectionOfEachModule) {
  // A /sys/module as the guest kernel shows it (LABCTL_AGENT_SYS stands for /sys).
  m_dir.write("sys/module/debugcon/sections/.text", "0xffffffffc0201000\n");
  m_dir.write("sys/module/debugcon/sections/.rodata.str1.1", "0xffffffffc0202088\n");
  m_dir.write("sys/module/debugcon/sections/not-dotted", "0x1\n");
  m_dir.write("sys/module/qemu_exercise/sections/.bss", "0xffffffffc0300000\n");
  m_dir.write("sys/module/other/sections/.text", "0xffffffffc0400000\n");
  auto answer = request("SECTIONS", "debugcon qemu_exercise");
  EXPECT_EQ(answer.exit_code, 0) << answer.err;
  auto sections = parse_module_sections(answer.out);
  ASSERT_EQ(sections.size(), 2u) << answer.out;
  EXPECT_EQ(sections["debugcon"],
            (std::vector<std::pair<std::string, std::string>>{
                {".rodata.str1.1", "0xffffffffc0202088"}, {".text", "0xffffffffc0201000"}}));
  EXPECT_EQ(sections["qemu_exercise"],
            (std::vector<std::pair<std::string, std::string>>{{".bss", "0xffffffffc0300000"}}));
  // A module that is not loaded has no sections: an error, not an empty answer.
  auto missing = request("SECTIONS", "not_loaded");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("not_loaded/sections"), std::string::npos) << missing.err;
}

TEST_F(GuestAgent, AliveVerbTellsARunningProcessFromAGoneOne) {
  EXPECT_EQ(request("ALIVE", std::to_string(::getpid())).out, "alive\n");
  auto gone = request("RUN", "sh -c 'echo $$'");
  ASSERT_EQ(gone.exit_code, 0);
  EXPECT_EQ(request("ALIVE", gone.out.substr(0, gone.out.size() - 1)).out, "gone\n");
}

TEST_F(GuestAgent, VerbArgumentsThatDoNotFitAreRefused) {
  // Shell text in an argument never runs: the step is not started (how C).
  auto text = request("ALIVE", "1;touch${IFS}x");
  EXPECT_EQ(text.end, StepEnd::not_run);
  EXPECT_EQ(text.exit_code, -1);
  EXPECT_NE(text.err.find("bad arguments for ALIVE"), std::string::npos) << text.err;
  // Well-formed words, but not what the verb takes.
  for (auto [verb, args] : {std::pair{"ALIVE", "abc"}, std::pair{"RESIZE", "24"},
                            std::pair{"SHELL", "24 80"}, std::pair{"SECTIONS", ""}}) {
    auto refused = request(verb, args);
    EXPECT_EQ(refused.exit_code, 2) << verb;
    EXPECT_NE(refused.err.find(std::string("bad arguments for ") + verb), std::string::npos)
        << refused.err;
  }
}

} // namespace
} // namespace labctl
