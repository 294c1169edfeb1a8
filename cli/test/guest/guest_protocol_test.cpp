#include "guest/guest_protocol.h"

#include "util/base64.h"

#include "test_support.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace labctl {
namespace {

const std::string k_nonce = "0123456789abcdef";

std::string all_byte_values() {
  std::string bytes;
  for (int i = 0; i < 256; ++i)
    bytes += static_cast<char>(i);
  return bytes;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string bytes(n, '\0');
  for (auto& b : bytes)
    b = static_cast<char>(rng() & 0xff);
  return bytes;
}

// base64 as busybox prints it: 76-column lines, nothing at all for no bytes.
std::string base64_lines(std::string_view bytes) {
  std::string encoded = encode_base64(bytes);
  std::string out;
  for (size_t i = 0; i < encoded.size(); i += 76)
    out += encoded.substr(i, 76) + "\n";
  return out;
}

std::string crc_hex(std::string_view bytes) {
  return fmt::format("{:08x}", crc32(bytes));
}

// An answer exactly as initrd/agent.sh writes it.
std::string agent_answer(const std::string& nonce, std::string_view out, std::string_view err,
                         const std::vector<std::string>& kmsg = {}, const std::string& exit = "0",
                         const std::string& how = "-") {
  std::string a = "\n=" + nonce + "=O=" + crc_hex(out) + "\n" + base64_lines(out) + "=" + nonce +
                  "=E=" + crc_hex(err) + "\n" + base64_lines(err) + "=" + nonce + "=K=\n";
  for (const auto& record : kmsg)
    a += record + "\n";
  if (!kmsg.empty())
    a += "\n"; // the agent's bulk copy ends with an empty line
  return a + "=" + nonce + "=X=" + exit + "=" + how + "\n";
}

StepOutput decode_whole(const std::string& bytes, const std::string& nonce = k_nonce) {
  ResponseDecoder decoder(nonce);
  decoder.watch_agent("b0075eedb0075eed");
  EXPECT_EQ(decoder.feed(bytes), bytes.size());
  EXPECT_TRUE(decoder.done());
  EXPECT_FALSE(decoder.failed()) << decoder.error();
  return decoder.take();
}

TEST(GuestProtocol, NonceIsSixteenFreshHexCharacters) {
  std::string a = make_nonce(), b = make_nonce();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

TEST(GuestProtocol, RequestLines) {
  EXPECT_EQ(encode_request("RUN", k_nonce, 30, "true"), "RUN 0123456789abcdef 30 dHJ1ZQ==\n");
  EXPECT_EQ(encode_request("RUN", k_nonce, -5, ""), "RUN 0123456789abcdef 0 \n");
  EXPECT_EQ(encode_request("KMSG", k_nonce), "KMSG 0123456789abcdef\n");
  EXPECT_EQ(encode_request("HALT", k_nonce), "HALT 0123456789abcdef\n");
  // Agent verbs carry their arguments as they are.
  EXPECT_EQ(encode_request("SECTIONS", k_nonce, 30, "a b_c"),
            "SECTIONS 0123456789abcdef 30 a b_c\n");
  EXPECT_EQ(encode_request("ALIVE", k_nonce, -1, "42"), "ALIVE 0123456789abcdef 0 42\n");
  // A 10 KB command with newlines and quotes stays one line.
  std::string command(10 * 1024, 'x');
  command += "\n'\"$(\\)\n";
  std::string line = encode_request("RUN", k_nonce, 5, command);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  std::string decoded;
  ASSERT_TRUE(
      decode_base64(line.substr(line.rfind(' ') + 1, line.size() - line.rfind(' ') - 2), decoded));
  EXPECT_EQ(decoded, command);
}

TEST(GuestResponseDecoder, DecodesAWholeAnswer) {
  auto output = decode_whole(agent_answer(k_nonce, "out\n", "err\n", {"6,12,3456,-;hello"}, "3"));
  EXPECT_EQ(output.out, "out\n");
  EXPECT_EQ(output.err, "err\n");
  EXPECT_EQ(output.exit_code, 3);
  EXPECT_FALSE(output.guest_timed_out);
  EXPECT_EQ(output.kmsg, std::vector<std::string>{"6,12,3456,-;hello"});
}

TEST(GuestResponseDecoder, SplitAtEveryByteBoundary) {
  std::string answer =
      agent_answer(k_nonce, all_byte_values(), "e\x01rr",
                   {"4,1,2,-;a record", "6,2,3,-;ctl\\x01x", " SUBSYSTEM=x"}, "137", "T");
  for (size_t cut = 0; cut <= answer.size(); ++cut) {
    ResponseDecoder decoder(k_nonce);
    size_t used = decoder.feed(std::string_view(answer).substr(0, cut));
    used += decoder.feed(std::string_view(answer).substr(cut));
    ASSERT_EQ(used, answer.size()) << cut;
    ASSERT_TRUE(decoder.done()) << cut;
    auto output = decoder.take();
    EXPECT_EQ(output.out, all_byte_values()) << cut;
    EXPECT_EQ(output.err, "e\x01rr") << cut;
    EXPECT_EQ(output.exit_code, 137);
    EXPECT_TRUE(output.guest_timed_out);
    EXPECT_EQ(output.kmsg.size(), 3u);
  }
}

TEST(GuestResponseDecoder, OneByteAtATime) {
  std::string out = random_bytes(5000, 1);
  std::string answer = agent_answer(k_nonce, out, "");
  ResponseDecoder decoder(k_nonce);
  for (char c : answer) {
    EXPECT_FALSE(decoder.done());
    decoder.feed(std::string_view(&c, 1));
  }
  ASSERT_TRUE(decoder.done());
  EXPECT_EQ(decoder.take().out, out);
}

TEST(GuestResponseDecoder, OneMebibyteOfBinaryOutput) {
  std::string out = random_bytes(1024 * 1024, 2);
  std::string answer = agent_answer(k_nonce, out, "");
  ResponseDecoder decoder(k_nonce);
  for (size_t i = 0; i < answer.size(); i += 4093)
    decoder.feed(std::string_view(answer).substr(i, 4093));
  ASSERT_TRUE(decoder.done());
  EXPECT_EQ(decoder.take().out, out);
}

TEST(GuestResponseDecoder, EmptyOutputsAndNoTrailingNewline) {
  auto empty = decode_whole(agent_answer(k_nonce, "", ""));
  EXPECT_EQ(empty.out, "");
  EXPECT_EQ(empty.err, "");
  EXPECT_TRUE(empty.kmsg.empty());
  EXPECT_EQ(decode_whole(agent_answer(k_nonce, "abc", "")).out, "abc");
  EXPECT_EQ(decode_whole(agent_answer(k_nonce, "", "no newline")).err, "no newline");
}

TEST(GuestResponseDecoder, CarriageReturnsAreIgnored) {
  std::string answer = agent_answer(k_nonce, "line\r\n", "x", {"6,1,1,-;rec"});
  std::string noisy;
  for (size_t i = 0; i < answer.size(); ++i) {
    if (answer[i] == '\n' || i % 7 == 0)
      noisy += '\r';
    noisy += answer[i];
  }
  auto output = decode_whole(noisy);
  EXPECT_EQ(output.out, "line\r\n"); // the step's own \r is inside base64, untouched
  EXPECT_EQ(output.kmsg, std::vector<std::string>{"6,1,1,-;rec"});
}

TEST(GuestResponseDecoder, GarbageAndStaleAnswersBeforeTheMarkerAreIgnored) {
  std::string stale = agent_answer("fedcba9876543210", "old output", "");
  std::string noise = "RUN 0123456789abcdef 30 dHJ1ZQ==\n[    3.1] kernel noise\npartial";
  ResponseDecoder decoder(k_nonce);
  decoder.feed(stale + noise + "\n" + agent_answer(k_nonce, "new output", ""));
  ASSERT_TRUE(decoder.done());
  EXPECT_EQ(decoder.take().out, "new output");
  EXPECT_NE(decoder.garbage().find("kernel noise"), std::string::npos);
  EXPECT_NE(decoder.garbage().find("=fedcba9876543210=X=0=-"), std::string::npos);
}

TEST(GuestResponseDecoder, StopsConsumingAtTheEndOfItsAnswer) {
  std::string answer = agent_answer(k_nonce, "x", "");
  std::string next = "=0000000000000000=X=0=-\n";
  ResponseDecoder decoder(k_nonce);
  EXPECT_EQ(decoder.feed(answer + next), answer.size());
  EXPECT_TRUE(decoder.done());
}

TEST(GuestResponseDecoder, ExitStatusForms) {
  auto killed = decode_whole(agent_answer(k_nonce, "", "", {}, "137", "T"));
  EXPECT_EQ(killed.exit_code, 137);
  EXPECT_TRUE(killed.guest_timed_out);
  EXPECT_EQ(killed.end, StepEnd::timed_out);
  EXPECT_EQ(unknown_exit_reason(killed), "");
  auto stuck = decode_whole(agent_answer(k_nonce, "", "", {}, "-", "S"));
  EXPECT_EQ(stuck.exit_code, -1);
  EXPECT_TRUE(stuck.guest_timed_out);
  EXPECT_NE(unknown_exit_reason(stuck).find("had not ended 5 s later"), std::string::npos);
  auto lost = decode_whole(agent_answer(k_nonce, "", "", {}, "-", "L"));
  EXPECT_EQ(lost.end, StepEnd::lost);
  EXPECT_FALSE(lost.guest_timed_out);
  EXPECT_NE(unknown_exit_reason(lost).find("exit status was lost"), std::string::npos);
  auto not_run = decode_whole(agent_answer(k_nonce, "", "bad text\n", {}, "-", "C"));
  EXPECT_EQ(not_run.end, StepEnd::not_run);
  EXPECT_NE(unknown_exit_reason(not_run).find("never ran"), std::string::npos);
  EXPECT_EQ(decode_whole(agent_answer(k_nonce, "", "", {}, "255")).exit_code, 255);
}

TEST(GuestResponseDecoder, Crc32IsZlibs) {
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("hello"), 0x3610a686u); // busybox crc32 and zlib.crc32 agree
  EXPECT_EQ(crc32("123456789"), 0xcbf43926u);
}

TEST(GuestResponseDecoder, JunkWithoutNewlineBeforeTheAnswerDoesNotHideIt) {
  // `printf junk > <control tty>` in a step: its bytes arrive just before the answer.
  for (std::string junk : {"junk", "junk=", "=junk=", "\x01\xff"}) {
    auto output = decode_whole(junk + agent_answer(k_nonce, "after\n", "", {}, "7"));
    EXPECT_EQ(output.out, "after\n") << junk;
    EXPECT_EQ(output.exit_code, 7) << junk;
  }
  // Even without the agent's leading empty line, the marker is found inside the line.
  std::string answer = agent_answer(k_nonce, "x", "");
  ResponseDecoder decoder(k_nonce);
  decoder.feed("junk" + answer.substr(1));
  ASSERT_TRUE(decoder.done()) << decoder.error();
  EXPECT_NE(decoder.garbage().find("junk"), std::string::npos);
  EXPECT_EQ(decoder.take().out, "x");
}

void expect_damaged(const std::string& bytes, const std::string& message_part,
                    bool require_streams = false) {
  ResponseDecoder decoder(k_nonce);
  if (require_streams)
    decoder.require_streams();
  decoder.feed(bytes);
  EXPECT_TRUE(decoder.failed()) << bytes;
  EXPECT_FALSE(decoder.done());
  EXPECT_EQ(decoder.error().rfind(k_damaged_answer, 0), 0u) << decoder.error();
  EXPECT_NE(decoder.error().find(message_part), std::string::npos) << decoder.error();
}

TEST(GuestResponseDecoder, DamagedAnswerIsNeverAPass) {
  const std::string m = "=" + k_nonce + "=";
  std::string good = agent_answer(k_nonce, "output of the step\n", "err\n", {}, "7");
  // Junk made of base64 characters inside the O section: the CRC no longer matches.
  std::string extra = good;
  extra.insert(extra.find(m + "E="), "junk\n");
  expect_damaged(extra, "stdout"); // invalid base64 after the padding, or a CRC mismatch
  // One byte of the output changed on its way.
  std::string flipped = good;
  size_t b64 = flipped.find('\n', flipped.find("=O=")) + 1;
  flipped[b64] = flipped[b64] == 'A' ? 'B' : 'A';
  expect_damaged(flipped, "has CRC-32");
  // A line of base64 lost.
  std::string big = agent_answer(k_nonce, random_bytes(500, 9), "", {}, "0");
  size_t line = big.find('\n', big.find("=O=")) + 1;
  big.erase(line, big.find('\n', line) + 1 - line);
  expect_damaged(big, "stdout (");
  // Junk that is not base64, and a marker of another answer, inside the frame.
  std::string not_b64 = good;
  not_b64.insert(not_b64.find(m + "E="), "junk!\n");
  expect_damaged(not_b64, "not base64");
  // A damaged O marker: without require_streams the output would look empty.
  std::string no_o = good;
  no_o[no_o.find(m + "O=")] = 'x';
  expect_damaged(no_o, "no stdout section", true);
  std::string bad_crc = good;
  bad_crc.replace(bad_crc.find(m + "O=") + m.size() + 2, 8, "xyz");
  expect_damaged(bad_crc, "malformed section marker");
}

TEST(GuestResponseDecoder, AgentDeathIsReportedAtOnce) {
  ResponseDecoder decoder(k_nonce);
  decoder.watch_agent("b0075eedb0075eed");
  decoder.require_streams();
  std::string answer = agent_answer(k_nonce, "partial output", "");
  // The agent died in the middle of its answer; init reports it on a line of its own.
  decoder.feed(answer.substr(0, answer.find("=" + k_nonce + "=E=")) +
               "\n=b0075eedb0075eed=AGENT=137\n");
  EXPECT_TRUE(decoder.failed());
  EXPECT_TRUE(decoder.agent_died());
  EXPECT_NE(decoder.error().find("the guest agent died (killed by signal 9; init restarts it)"),
            std::string::npos)
      << decoder.error();
  EXPECT_NE(decoder.error().find("init restarts it"), std::string::npos);
  // Before any answer, too; another boot nonce is just noise.
  ResponseDecoder early(k_nonce);
  early.watch_agent("b0075eedb0075eed");
  early.feed("=ffffffffffffffff=AGENT=1\n");
  EXPECT_FALSE(early.failed());
  early.feed("=b0075eedb0075eed=AGENT=1\n");
  EXPECT_TRUE(early.agent_died());
  EXPECT_NE(early.error().find("(exit status '1';"), std::string::npos) << early.error();
}

TEST(GuestResponseDecoder, KmsgAndPingAnswers) {
  auto kmsg =
      decode_whole("\n=" + k_nonce + "=K=\n6,1,2,-;one\n6,2,3,-;two\n\n=" + k_nonce + "=X=0=-\n");
  EXPECT_EQ(kmsg.kmsg, (std::vector<std::string>{"6,1,2,-;one", "6,2,3,-;two"}));
  auto ping = decode_whole("\n=" + k_nonce + "=X=0=-\n");
  EXPECT_EQ(ping.exit_code, 0);
}

void expect_failure(const std::string& bytes, const std::string& message_part) {
  ResponseDecoder decoder(k_nonce);
  decoder.feed(bytes);
  EXPECT_TRUE(decoder.failed()) << bytes;
  EXPECT_FALSE(decoder.done());
  EXPECT_NE(decoder.error().find(message_part), std::string::npos) << decoder.error();
}

TEST(GuestResponseDecoder, ProtocolViolationsFail) {
  const std::string m = "=" + k_nonce + "=";
  const std::string o = m + "O=00000000\n", e = m + "E=00000000\n";
  expect_failure(o + "=fedcba9876543210=X=0=-\n", "unexpected marker");
  expect_failure(o + "not base64!\n", "not base64");
  expect_failure(o + "YWJ\n" + m + "X=0=-\n", "stdout is not valid base64");
  expect_failure(e + o, "out of order");
  expect_failure(o + o, "out of order");
  expect_failure(m + "O=\n", "malformed section marker");
  expect_failure(m + "Z=\n", "unknown marker");
  expect_failure(m + "X=abc=-\n", "malformed end marker");
  expect_failure(m + "X=0=maybe\n", "malformed end marker");
  expect_failure(m + "X=0\n", "malformed end marker");
  expect_failure(m + "X=-=-\n", "malformed end marker");
  expect_failure(m + "X=0=L\n", "malformed end marker");
}

TEST(GuestResponseDecoder, OutputBeyondTheLimitFails) {
  std::string answer = agent_answer(k_nonce, random_bytes(10000, 3), "");
  ResponseDecoder decoder(k_nonce, 4096);
  size_t used = decoder.feed(answer);
  EXPECT_LT(used, answer.size());
  EXPECT_TRUE(decoder.failed());
  EXPECT_FALSE(decoder.done());
  EXPECT_EQ(decoder.error(), "output exceeds 4096 bytes");
  // An endless line counts too.
  ResponseDecoder endless(k_nonce, 4096);
  endless.feed(std::string(5000, 'A'));
  EXPECT_TRUE(endless.failed());
}

TEST(GuestResponseDecoder, RecordedAgentAnswer) {
  // Bytes read from the control socket of a real guest (agent.sh under the Debian 6.1 kernel
  // and TCG) for: printf 'out\001'; echo err >&2; echo rec > /dev/kmsg; exit 5
  auto recorded = read_file(test::test_data("guest/run_answer.bin"));
  ASSERT_TRUE(recorded.ok());
  auto nonce = read_file(test::test_data("guest/run_answer.nonce"));
  ASSERT_TRUE(nonce.ok());
  auto output = decode_whole(*recorded, nonce->substr(0, 16));
  EXPECT_EQ(output.out, "out\x01");
  EXPECT_EQ(output.err, "err\n");
  EXPECT_EQ(output.exit_code, 5);
  ASSERT_EQ(output.kmsg.size(), 1u);
  EXPECT_NE(output.kmsg[0].find(";rec"), std::string::npos);
}

TEST(GuestBootDecoder, ModulesAndReady) {
  const std::string m = "=" + k_nonce + "=";
  std::string bytes = "[    2.0] noise\n" + m + "MOD=debugcon=OK\r\n" + m + "MOD=broken=FAIL=" +
                      encode_base64("insmod: can't insert 'broken.ko': invalid module format") +
                      "\n=" + std::string("ffffffffffffffff") + "=READY=other\n" + m +
                      "READY=6.1.0-56-amd64\n" + "=next=O=\n";
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    BootDecoder decoder(k_nonce);
    size_t used = decoder.feed(std::string_view(bytes).substr(0, cut));
    if (!decoder.ready())
      used += decoder.feed(std::string_view(bytes).substr(cut));
    ASSERT_TRUE(decoder.ready()) << cut;
    EXPECT_EQ(used, bytes.size() - std::string("=next=O=\n").size()) << cut;
    EXPECT_FALSE(decoder.failed()) << decoder.error();
    EXPECT_EQ(decoder.kernel_release(), "6.1.0-56-amd64");
    ASSERT_EQ(decoder.modules().size(), 2u);
    EXPECT_EQ(decoder.modules()[0].name, "debugcon");
    EXPECT_TRUE(decoder.modules()[0].ok);
    EXPECT_EQ(decoder.modules()[1].name, "broken");
    EXPECT_FALSE(decoder.modules()[1].ok);
    EXPECT_EQ(decoder.modules()[1].error_text,
              "insmod: can't insert 'broken.ko': invalid module format");
  }
}

TEST(GuestBootDecoder, MalformedReports) {
  const std::string m = "=" + k_nonce + "=";
  BootDecoder decoder(k_nonce);
  decoder.feed(m + "MOD=x=FAIL=@@@\n" + m + "HELLO\n");
  ASSERT_EQ(decoder.modules().size(), 1u);
  EXPECT_FALSE(decoder.modules()[0].ok);
  EXPECT_NE(decoder.modules()[0].error_text.find("did not arrive intact"), std::string::npos);
  EXPECT_TRUE(decoder.failed());
  EXPECT_FALSE(decoder.ready());
}

TEST(GuestBootDecoder, RecordedBoot) {
  // The control channel of a real boot: two modules loaded, one rejected by the kernel.
  auto recorded = read_file(test::test_data("guest/boot.bin"));
  ASSERT_TRUE(recorded.ok());
  BootDecoder decoder("0123456789abcdef");
  decoder.feed(*recorded);
  ASSERT_TRUE(decoder.ready());
  EXPECT_FALSE(decoder.failed()) << decoder.error();
  EXPECT_EQ(decoder.kernel_release(), "6.1.0-56-amd64");
  ASSERT_EQ(decoder.modules().size(), 3u);
  EXPECT_EQ(decoder.modules()[0].name, "labctl_fault");
  EXPECT_TRUE(decoder.modules()[0].ok);
  EXPECT_EQ(decoder.modules()[1].name, "broken");
  EXPECT_FALSE(decoder.modules()[1].ok);
  EXPECT_EQ(decoder.modules()[1].error_text,
            "insmod: can't insert '/lib/labctl/modules/broken.ko': invalid module format");
  EXPECT_TRUE(decoder.modules()[2].ok);
}

} // namespace
} // namespace labctl
