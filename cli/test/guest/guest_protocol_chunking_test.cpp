// How the bytes of the control channel were cut up on their way must never change what the
// decoders conclude (the property the guest_protocol fuzz target checks).
#include "guest/guest_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace labctl {
namespace {

const std::string k_nonce = "0123456789abcdef";

TEST(GuestProtocolChunking, LimitFailureIsTheSameWholeOrByteByByte) {
  // Found by the fuzz target: a long marker line right at the limit failed as "unexpected
  // marker" when fed whole, but as "output exceeds" when fed in pieces.
  std::string answer = "=" + k_nonce + "=O=00000000\n" + std::string(200, 'A') + "\n=" + k_nonce +
                       "=MOD=" + std::string(100, 'x') + "\n";
  ResponseDecoder whole(k_nonce, 256);
  whole.feed(answer);
  ResponseDecoder pieces(k_nonce, 256);
  for (char c : answer)
    pieces.feed(std::string_view(&c, 1));
  ASSERT_TRUE(whole.failed());
  EXPECT_EQ(whole.error(), "output exceeds 256 bytes");
  EXPECT_EQ(pieces.error(), whole.error());
}

TEST(GuestProtocolChunking, OverlongBootLineIsNoiseHoweverItArrives) {
  // A line over 1 MiB is dropped; what follows it on the same line must not count either.
  std::string line = std::string((1 << 20) + 10, 'x') + "=" + k_nonce + "=READY=6.1\n";
  BootDecoder whole(k_nonce);
  whole.feed(line);
  BootDecoder pieces(k_nonce);
  for (size_t i = 0; i < line.size(); i += 4096)
    pieces.feed(std::string_view(line).substr(i, 4096));
  EXPECT_FALSE(whole.ready());
  EXPECT_FALSE(pieces.ready());
  // The next line is read normally.
  std::string ready = "=" + k_nonce + "=READY=6.1\n";
  whole.feed(ready);
  pieces.feed(ready);
  EXPECT_TRUE(whole.ready());
  EXPECT_TRUE(pieces.ready());
}

} // namespace
} // namespace labctl
