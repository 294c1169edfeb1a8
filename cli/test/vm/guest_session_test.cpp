// GuestSession in-process, over a scripted VM that replays recorded guests: the control
// channel of a real boot (tests/data/guest/boot.bin), a real agent's answer
// (run_answer.bin), a real kernel's console (tests/data/console/), and answers made with the
// protocol's own encoder.
#include "vm/guest_session.h"

#include "guest/guest_protocol.h"
#include "test_support.h"
#include "util/base64.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <deque>
#include <sstream>

namespace labctl {
namespace {

constexpr const char* k_boot_nonce = "0123456789abcdef"; // the one boot.bin was recorded with
constexpr const char* k_recorded_answer_nonce = "559ba7391bfccf1d";

// A request as the guest's agent reads it.
struct Request {
  std::string verb, nonce, command;
};

// A VM that says what its script says, in order: console bytes, control-channel bytes and
// its exit. Each request sent on the control channel is answered by the next responder,
// which appends to the script. With nothing left to say, waiting runs out (timeout) at once.
class ScriptedLink final : public GuestLink {
public:
  using Responder = std::function<void(ScriptedLink&, const Request&)>;

  void console(std::string text) { m_script.push_back({Chunk::console, std::move(text)}); }
  void control(std::string bytes) { m_script.push_back({Chunk::control, std::move(bytes)}); }
  void exit(int code) { m_script.push_back({Chunk::exit, std::to_string(code)}); }
  void respond(Responder responder) { m_responders.push_back(std::move(responder)); }

  // Chunks not yet delivered.
  size_t pending() const { return m_script.size(); }
  // Whether a wait found nothing more to come and ended as timed out.
  bool ran_out() const { return m_ran_out; }
  const std::vector<Request>& requests() const { return m_requests; }

  Event pump(const std::function<bool()>& done, Clock::time_point) override {
    for (;;) {
      if (done && done())
        return Event::done;
      if (m_script.empty()) {
        if (m_exit)
          return Event::qemu_exited;
        m_ran_out = true;
        return Event::timeout;
      }
      Chunk chunk = std::move(m_script.front());
      m_script.pop_front();
      switch (chunk.kind) {
      case Chunk::console:
        console_bytes_in(chunk.bytes);
        break;
      case Chunk::control:
        if (on_control_bytes)
          on_control_bytes(chunk.bytes);
        break;
      case Chunk::exit:
        m_exit = ExitStatus{std::stoi(chunk.bytes), 0};
        break;
      }
    }
  }

  bool send_control(std::string_view bytes) override {
    if (m_exit)
      return false;
    std::istringstream line{std::string(bytes)};
    Request r;
    std::string timeout, command64;
    line >> r.verb >> r.nonce >> timeout >> command64;
    EXPECT_TRUE(decode_base64(command64, r.command)) << bytes;
    m_requests.push_back(r);
    if (m_responders.empty()) {
      ADD_FAILURE() << "no answer scripted for " << bytes;
      return true;
    }
    Responder next = std::move(m_responders.front());
    m_responders.pop_front();
    next(*this, r);
    return true;
  }
  bool send_console(std::string_view) override { return true; }
  void watch(int, std::function<void()>) override {}
  bool stop_cpus() override { return true; }
  Result<bool> cpus_running() override { return true; }
  ExitStatus shutdown() override {
    if (!m_exit)
      m_exit = ExitStatus{0, 0};
    return *m_exit;
  }
  std::optional<ExitStatus> exit_status() override { return m_exit; }
  const std::vector<std::string>& argv() const override { return m_argv; }
  std::string qemu_stderr() const override { return {}; }
  const std::deque<std::string>& recent_console() const override { return m_recent; }
  uint64_t console_bytes() const override { return m_console_bytes; }
  const std::string& console_log_error() const override { return m_no_error; }
  const std::filesystem::path& gdb_socket() const override { return m_no_socket; }

private:
  struct Chunk {
    enum Kind { console, control, exit } kind;
    std::string bytes;
  };

  void console_bytes_in(std::string_view bytes) {
    m_console_bytes += bytes.size();
    for (char c : bytes) {
      if (c == '\r')
        continue;
      if (c != '\n') {
        m_partial += c;
        continue;
      }
      m_recent.push_back(m_partial);
      if (on_console_line)
        on_console_line(m_partial);
      m_partial.clear();
    }
  }

  std::deque<Chunk> m_script;
  std::deque<Responder> m_responders;
  std::vector<Request> m_requests;
  std::optional<ExitStatus> m_exit;
  bool m_ran_out = false;
  std::deque<std::string> m_recent;
  std::string m_partial;
  uint64_t m_console_bytes = 0;
  std::vector<std::string> m_argv{"scripted-vm"};
  std::string m_no_error;
  std::filesystem::path m_no_socket;
};

std::string recorded(const std::string& name) {
  auto data = read_file(test::test_data(name));
  EXPECT_TRUE(data.ok()) << name;
  return data ? *data : std::string();
}

// Lines [first, last] (1-based) of a recorded console, each ending in CRLF as on ttyS0.
std::string console_lines(const std::string& name, size_t first, size_t last) {
  std::istringstream in(recorded("console/" + name));
  std::string line, out;
  for (size_t n = 1; std::getline(in, line); ++n)
    if (n >= first && n <= last)
      out += line + "\r\n";
  return out;
}

// An answer exactly as initrd/agent.sh writes it (base64 lines of 76, CRC-32 per stream).
std::string agent_answer(const std::string& nonce, std::string_view out, std::string_view err,
                         const std::string& exit, const std::string& how = "-",
                         const std::vector<std::string>& kmsg = {}) {
  auto lines = [](std::string_view bytes) {
    std::string b64 = encode_base64(bytes), text;
    for (size_t i = 0; i < b64.size(); i += 76)
      text += b64.substr(i, 76) + "\n";
    return text;
  };
  std::string a = fmt::format("\n={0}=O={1:08x}\n{2}={0}=E={3:08x}\n{4}={0}=K=\n", nonce,
                              crc32(out), lines(out), crc32(err), lines(err));
  for (const auto& record : kmsg)
    a += record + "\n";
  if (!kmsg.empty())
    a += "\n";
  return a + fmt::format("={}=X={}={}\n", nonce, exit, how);
}

// The recorded boot's control channel, one report line per chunk.
void script_recorded_boot(ScriptedLink& link) {
  std::istringstream in(recorded("guest/boot.bin"));
  for (std::string line; std::getline(in, line);)
    link.control(line + "\n");
}

class GuestSessionTest : public ::testing::Test {
protected:
  GuestSessionTest() {
    auto owned = std::make_unique<ScriptedLink>();
    link = owned.get();
    session = GuestSession::over(std::move(owned), k_boot_nonce);
  }

  GuestSession::Boot boot() { return session->wait_ready(far()); }
  StepResult run(const std::string& command) { return session->run(command, 30, far(), far()); }
  static GuestSession::Clock::time_point far() {
    return GuestSession::Clock::now() + std::chrono::hours(1);
  }

  ScriptedLink* link;
  std::unique_ptr<GuestSession> session;
};

TEST_F(GuestSessionTest, RecordedBootReachesReadyWithItsModules) {
  link->console(console_lines("clean_boot.log", 1, 1000));
  script_recorded_boot(*link);
  auto boot = this->boot();
  EXPECT_EQ(boot.outcome, GuestSession::Outcome::ok) << boot.error;
  EXPECT_EQ(boot.kernel_release, "6.1.0-56-amd64");
  ASSERT_EQ(boot.modules.size(), 3u);
  EXPECT_EQ(boot.modules[0].name, "labctl_fault");
  EXPECT_TRUE(boot.modules[0].ok);
  EXPECT_FALSE(boot.modules[1].ok);
  EXPECT_EQ(boot.modules[1].error_text,
            "insmod: can't insert '/lib/labctl/modules/broken.ko': invalid module format");
  EXPECT_TRUE(session->faults().empty());
  std::vector<std::string> milestones;
  for (const auto& [name, seconds] : session->timeline())
    milestones.push_back(name);
  EXPECT_EQ(milestones, (std::vector<std::string>{"qemu_started", "first_console_line",
                                                  "init_started", "ready"}));
}

TEST_F(GuestSessionTest, CorruptBootReportFailsAtOnceSayingWhatArrived) {
  const std::string m = std::string("=") + k_boot_nonce + "=";
  link->control(m + "MOD=labctl_fault=OK\n");
  link->control(m + "MOD=broken=FAIL=@@not base64@@\n" + m + "READY?6.1.0\n");
  link->control(m + "READY=6.1.0-56-amd64\n"); // never reached: the report was already bad
  auto boot = this->boot();
  EXPECT_EQ(boot.outcome, GuestSession::Outcome::boot_report_damaged);
  EXPECT_NE(boot.error.find("unknown boot report on the control channel"), std::string::npos)
      << boot.error;
  EXPECT_NE(boot.error.find("READY?6.1.0"), std::string::npos) << boot.error;
  // It stopped at the damaged report rather than waiting on to the deadline.
  EXPECT_FALSE(link->ran_out());
  EXPECT_EQ(link->pending(), 1u);
}

TEST_F(GuestSessionTest, StepAnswerComesBackExactly) {
  script_recorded_boot(*link);
  ASSERT_EQ(boot().outcome, GuestSession::Outcome::ok);
  const std::string out("line 1\n\x00\x01\xff binary\r\n=not a marker=\n", 34);
  const std::string err = "an error\n";
  link->respond([&](ScriptedLink& l, const Request& r) {
    l.control("noise a step left without a newline");
    l.control(agent_answer(r.nonce, out, err, "7", "-", {"6,90,1234,-;hello from the step"}));
  });
  auto step = run("exit 7");
  ASSERT_EQ(step.outcome, GuestSession::Outcome::ok) << step.error;
  EXPECT_EQ(step.exit_code, 7);
  EXPECT_EQ(step.out, out);
  EXPECT_EQ(step.err, err);
  EXPECT_FALSE(step.timed_out);
  EXPECT_NE(session->kernel_log().text.find("hello from the step\n"), std::string::npos);
  ASSERT_EQ(link->requests().size(), 1u);
  EXPECT_EQ(link->requests()[0].verb, "RUN");
  EXPECT_EQ(link->requests()[0].command, "exit 7");
}

TEST_F(GuestSessionTest, RecordedAgentAnswerUnderTheRequestsNonce) {
  script_recorded_boot(*link);
  ASSERT_EQ(boot().outcome, GuestSession::Outcome::ok);
  link->respond([](ScriptedLink& l, const Request& r) {
    // The real agent's bytes, its nonce replaced by this request's (the CRCs cover the
    // decoded streams only).
    std::string answer = recorded("guest/run_answer.bin");
    for (size_t at; (at = answer.find(k_recorded_answer_nonce)) != std::string::npos;)
      answer.replace(at, r.nonce.size(), r.nonce);
    l.control(answer);
  });
  auto step = run("printf 'out\\001'; echo err >&2; echo rec > /dev/kmsg; exit 5");
  ASSERT_EQ(step.outcome, GuestSession::Outcome::ok) << step.error;
  EXPECT_EQ(step.exit_code, 5);
  EXPECT_EQ(step.out, "out\x01");
  EXPECT_EQ(step.err, "err\n");
  EXPECT_NE(session->kernel_log().text.find("rec\n"), std::string::npos);
}

TEST_F(GuestSessionTest, AnswerWithABadCrcIsReportedAsDamaged) {
  script_recorded_boot(*link);
  ASSERT_EQ(boot().outcome, GuestSession::Outcome::ok);
  link->respond([](ScriptedLink& l, const Request& r) {
    std::string answer = agent_answer(r.nonce, "out\n", "", "0");
    // One byte of stdout changed on its way: "out\n" is b3V0Cg==, "ovt\n" b3Z0Cg==.
    answer.replace(answer.find("b3V0Cg=="), 8, "b3Z0Cg==");
    l.control(answer);
  });
  auto step = run("echo out");
  EXPECT_EQ(step.outcome, GuestSession::Outcome::protocol_error);
  EXPECT_EQ(step.error.rfind(k_damaged_answer, 0), 0u) << step.error;
  EXPECT_NE(step.error.find("stdout"), std::string::npos) << step.error;
  EXPECT_TRUE(step.out.empty());
}

TEST_F(GuestSessionTest, GuestExitingMidStepEndsThatStepAsQemuExited) {
  script_recorded_boot(*link);
  ASSERT_EQ(boot().outcome, GuestSession::Outcome::ok);
  link->respond([](ScriptedLink& l, const Request& r) {
    l.control(fmt::format("\n={}=O=", r.nonce));    // half an answer, then the VM is gone
    l.console(console_lines("oops.log", 397, 398)); // ... reboot: Power down
    l.exit(0);
  });
  auto step = run("poweroff -f");
  EXPECT_EQ(step.outcome, GuestSession::Outcome::qemu_exited);
  ASSERT_TRUE(link->exit_status());
  EXPECT_EQ(link->exit_status()->code, 0);
  EXPECT_NE(link->recent_console().back().find("reboot: Power down"), std::string::npos);
}

TEST_F(GuestSessionTest, OopsOnTheConsoleDuringAStepIsThatStepsFault) {
  // The real kernel's console: boot up to the test writing 'oops' (line 337), then the Oops.
  link->console(console_lines("oops.log", 1, 337));
  script_recorded_boot(*link);
  ASSERT_EQ(boot().outcome, GuestSession::Outcome::ok);
  EXPECT_TRUE(session->faults().empty());
  session->set_phase({.name = "step", .step = 2});
  link->respond([](ScriptedLink& l, const Request& r) {
    l.console(console_lines("oops.log", 338, 384));
    l.control(agent_answer(r.nonce, "", "Killed\n", "137"));
  });
  auto step = run("echo oops > /dev/labctl_fault");
  ASSERT_EQ(step.outcome, GuestSession::Outcome::ok) << step.error;
  EXPECT_EQ(step.exit_code, 137);
  ASSERT_EQ(session->faults().size(), 1u);
  const AttributedFault& fault = session->faults()[0];
  EXPECT_EQ(fault.fault.kind, "oops");
  EXPECT_NE(fault.fault.title.find("NULL pointer dereference"), std::string::npos)
      << fault.fault.title;
  EXPECT_EQ(fault.phase, (RunPhase{.name = "step", .step = 2}));
  // A later phase does not take it over.
  session->set_phase({.name = "shutdown"});
  session->shutdown();
  ASSERT_EQ(session->faults().size(), 1u);
  EXPECT_EQ(session->faults()[0].phase, (RunPhase{.name = "step", .step = 2}));
}

// A SLUB report ends with FIX lines that only the next message can tell are the last: the
// step's answer settles it, so it is that step's fault, not the next step's.
TEST_F(GuestSessionTest, SlubReportAtTheEndOfAStepIsThatStepsFault) {
  link->console(console_lines("slub_debug_6.12.log", 1, 365));
  script_recorded_boot(*link);
  ASSERT_EQ(boot().outcome, GuestSession::Outcome::ok);
  session->set_phase({.name = "step", .step = 1});
  link->respond([](ScriptedLink& l, const Request& r) {
    l.console(console_lines("slub_debug_6.12.log", 366, 438)); // "overrun" ... FIX lines
    l.control(agent_answer(r.nonce, "", "", "0"));
  });
  ASSERT_EQ(run("echo overrun > /dev/labctl_slab").outcome, GuestSession::Outcome::ok);
  ASSERT_EQ(session->faults().size(), 1u);
  EXPECT_EQ(session->faults()[0].fault.kind, "slub");
  EXPECT_EQ(session->faults()[0].phase, (RunPhase{.name = "step", .step = 1}));
  EXPECT_NE(session->faults()[0].fault.report.find("FIX kmalloc-8: Object at"), std::string::npos);

  session->set_phase({.name = "step", .step = 2});
  link->respond([](ScriptedLink& l, const Request& r) {
    l.console(console_lines("slub_debug_6.12.log", 439, 522)); // "uaf" ... FIX line
    l.control(agent_answer(r.nonce, "", "", "0"));
  });
  ASSERT_EQ(run("echo uaf > /dev/labctl_slab").outcome, GuestSession::Outcome::ok);
  ASSERT_EQ(session->faults().size(), 2u);
  EXPECT_NE(session->faults()[1].fault.title.find("[Poison overwritten]"), std::string::npos);
  EXPECT_EQ(session->faults()[1].phase, (RunPhase{.name = "step", .step = 2}));
}

} // namespace
} // namespace labctl
