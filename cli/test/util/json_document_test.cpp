#include "util/json_document.h"

#include <gtest/gtest.h>

#include <string>

namespace labctl {
namespace {

TEST(JsonDocument, NumberItCannotHoldIsBadInputNotAnException) {
  // Found by the config_loader fuzz target: nlohmann throws out_of_range for 1e999.
  auto doc = JsonDocument::parse(R"({"timeout": 1e999})", "s.json");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error().error_number, 0); // the loaders make it bad input (ScenarioLoad tests)
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

TEST(JsonDocument, KeyGivenTwiceIsBadInputNamingTheSecondLine) {
  // nlohmann keeps the last value: the first "steps" list would vanish without a word.
  auto doc =
      JsonDocument::parse("{\n  \"steps\": [1],\n  \"x\": 2,\n  \"steps\": [3]\n}", "s.json");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error().error_number, 0);
  EXPECT_EQ(doc.error().message,
            "s.json:4: key 'steps' given twice (first on line 2); JSON would keep only the last "
            "value");
}

TEST(JsonDocument, KeyGivenTwiceIsFoundInNestedObjectsAndArrays) {
  auto doc = JsonDocument::parse(
      "{\"steps\": [\n  {\"run\": \"a\"},\n  {\"run\": \"b\",\n   \"run\": \"c\"}\n]}", "n.json");
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.error().message.find("n.json:4: key 'run' given twice (first on line 3)"),
            std::string::npos)
      << doc.error().message;
  // Escapes are decoded before comparing: "a" and "\u0061" are the same key.
  auto escaped = JsonDocument::parse(R"({"a": 1, "\u0061": 2})", "e.json");
  ASSERT_FALSE(escaped.ok());
  EXPECT_NE(escaped.error().message.find("key 'a' given twice"), std::string::npos);
}

TEST(JsonDocument, SameKeyInDifferentObjectsIsFine) {
  auto doc = JsonDocument::parse(
      R"({"a": {"run": 1}, "b": {"run": 2}, "c": [{"run": 3}, {"run": 4}]})", "ok.json");
  EXPECT_TRUE(doc.ok()) << doc.error().message;
}

} // namespace
} // namespace labctl
