#include "util/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace labctl {
namespace {

std::string all_byte_values() {
  std::string bytes;
  for (int i = 0; i < 256; ++i)
    bytes += static_cast<char>(i);
  return bytes;
}

TEST(Base64, RoundTrip) {
  for (size_t n = 0; n < 260; ++n) {
    std::string bytes = all_byte_values().substr(0, n % 256) + std::string(n / 256, '\xff');
    std::string decoded;
    ASSERT_TRUE(decode_base64(encode_base64(bytes), decoded)) << n;
    EXPECT_EQ(decoded, bytes) << n;
  }
  EXPECT_EQ(encode_base64("abc"), "YWJj");
  EXPECT_EQ(encode_base64("ab"), "YWI=");
  EXPECT_EQ(encode_base64("a"), "YQ==");
}

TEST(Base64, RejectsWhatIsNotBase64) {
  std::string out;
  EXPECT_FALSE(decode_base64("YWJ", out));
  EXPECT_FALSE(decode_base64("YW=j", out));
  EXPECT_FALSE(decode_base64("Y===", out));
  EXPECT_FALSE(decode_base64("YQ==YWJj", out));
  EXPECT_FALSE(decode_base64("YW J", out));
  EXPECT_FALSE(decode_base64("YWJj\n", out));
}

TEST(Base64, DecodeAppends) {
  std::string out = "x";
  ASSERT_TRUE(decode_base64("YWJj", out));
  EXPECT_EQ(out, "xabc");
}

} // namespace
} // namespace labctl
