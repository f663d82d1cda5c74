#include "load/json_frame.h"

#include <string>

#include <gtest/gtest.h>

namespace parley::bench {
namespace {

TEST(JsonFrameTest, ParsesFramesOneAfterAnother) {
  JsonFrame f;
  const auto* o = f.Parse(R"({"type":"ack","id":"17","seq":5,"conv":"p:1:2"})");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(StringField(*o, "type"), "ack");
  EXPECT_EQ(StringField(*o, "id"), "17");
  EXPECT_EQ(IntField(*o, "seq"), 5);
  EXPECT_EQ(IntField(*o, "missing"), 0);
  EXPECT_EQ(StringField(*o, "seq"), "");  // wrong type reads as empty

  // A frame larger than the arena spills to the heap and still parses.
  std::string big = R"({"type":"msg","body":")" + std::string(100'000, 'x') + R"("})";
  o = f.Parse(big);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(StringField(*o, "body").size(), 100'000u);

  EXPECT_EQ(f.Parse("[1,2]"), nullptr);
  EXPECT_EQ(f.Parse("{not json"), nullptr);
  o = f.Parse(R"({"type":"hello","user_id":9007199254740991})");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(IntField(*o, "user_id"), 9007199254740991);
}

}  // namespace
}  // namespace parley::bench
