#include "util/json_document.h"

#include <gtest/gtest.h>

#include <string>

namespace labctl {
namespace {

TEST(JsonDocument, NumberItCannotHoldIsBadInputNotAnException) {
  // Found by the config_loader fuzz target: nlohmann throws out_of_range for 1e999.
  auto doc = JsonDocument::parse(R"({"timeout": 1e999})", "s.json");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error().code, ExitCode::bad_input);
  EXPECT_NE(doc.error().message.find("s.json: invalid JSON: number overflow"), std::string::npos)
      << doc.error().message;
}

TEST(JsonDocument, DeepNestingIsBadInputNamingTheLine) {
  // 100000 levels used to overflow the stack in the line scanner.
  std::string deep = "{\n\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto doc = JsonDocument::parse(deep, "deep.json");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error().message, "deep.json:2: invalid JSON: nested deeper than 64 levels");
  // Brackets inside strings do not count.
  auto text = JsonDocument::parse(R"({"a": ")" + std::string(1000, '[') + R"("})", "t.json");
  EXPECT_TRUE(text.ok()) << text.error().message;
}

} // namespace
} // namespace labctl
