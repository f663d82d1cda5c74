#include "api/json_request.h"

#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace parley::api {
namespace {

JsonRequest MustParse(std::string_view body) {
  StatusOr<JsonRequest> r = JsonRequest::Parse(body);
  EXPECT_TRUE(r.ok()) << body << ": " << r.status().message();
  return std::move(r).value();
}

TEST(JsonRequestTest, ParseRefusesWhatIsNotOneObject) {
  for (std::string_view body : {"", "   ", "{", "[]", "5", "\"s\"", "null", "{} {}", "{\"a\":}",
                                "{\"a\":1,}", "{'a':1}", "{\"a\":\"\xff\"}"}) {
    StatusOr<JsonRequest> r = JsonRequest::Parse(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << body;
  }
  EXPECT_TRUE(JsonRequest::Parse(" {} \n").ok());
}

TEST(JsonRequestTest, StringField) {
  JsonRequest r = MustParse(R"({"s":"héllo","e":"","n":5,"z":null,"b":true,"a":["x"],"o":{}})");
  ASSERT_OK(r.String("s").status());
  EXPECT_EQ(*r.String("s"), "héllo");
  EXPECT_EQ(*r.String("e"), "");
  for (const char* field : {"n", "z", "b", "a", "o"}) {
    StatusOr<std::string> v = r.String(field);
    ASSERT_FALSE(v.ok()) << field;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(v.status().message(), std::string(field) + " must be a string");
  }
  EXPECT_EQ(r.String("missing").status().message(), "missing is required");
}

TEST(JsonRequestTest, StringKeepsEmbeddedNul) {
  JsonRequest r = MustParse(R"({"s":"a\u0000b"})");
  EXPECT_EQ(*r.String("s"), std::string("a\0b", 3));
}

TEST(JsonRequestTest, IdAcceptsPositiveIntegersBelowTwoTo53) {
  JsonRequest r = MustParse(R"({"one":1,"max":9007199254740991,"mid":123456})");
  EXPECT_EQ(*r.Id("one"), 1u);
  EXPECT_EQ(*r.Id("max"), 9007199254740991u);
  EXPECT_EQ(*r.Id("mid"), 123456u);
}

TEST(JsonRequestTest, IdRefusesEverythingElse) {
  JsonRequest r = MustParse(
      R"({"zero":0,"neg":-1,"float":1.5,"whole_float":5.0,"exp":1e3,"big":9007199254740992,)"
      R"("huge":18446744073709551615,"str":"5","null":null,"bool":true,"arr":[1],"obj":{}})");
  for (const char* field : {"zero", "neg", "float", "whole_float", "exp", "big", "huge", "str",
                            "null", "bool", "arr", "obj"}) {
    StatusOr<uint64_t> v = r.Id(field);
    ASSERT_FALSE(v.ok()) << field;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(v.status().message(), std::string(field) + " must be a positive integer below 2^53");
  }
  EXPECT_EQ(r.Id("absent").status().message(), "absent is required");
}

TEST(JsonRequestTest, IdArray) {
  JsonRequest r = MustParse(R"({"ok":[1,2,3],"empty":[],"bad":[1,"2"],"neg":[-4],"notarr":7})");
  EXPECT_EQ(*r.IdArray("ok", false), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_TRUE(r.IdArray("empty", false)->empty());
  EXPECT_FALSE(r.IdArray("bad", false).ok());
  EXPECT_FALSE(r.IdArray("neg", false).ok());
  EXPECT_EQ(r.IdArray("notarr", false).status().message(), "notarr must be an array of ids");
  EXPECT_TRUE(r.IdArray("absent", true)->empty());
  EXPECT_EQ(r.IdArray("absent", false).status().message(), "absent is required");
}

TEST(JsonRequestTest, Has) {
  JsonRequest r = MustParse(R"({"a":null})");
  EXPECT_TRUE(r.Has("a"));
  EXPECT_FALSE(r.Has("b"));
}

TEST(ParseDecimalTest, DigitsOnlyWithinMax) {
  EXPECT_EQ(ParseDecimal("0", 10), 0u);
  EXPECT_EQ(ParseDecimal("007", 10), 7u);
  EXPECT_EQ(ParseDecimal("10", 10), 10u);
  EXPECT_EQ(ParseDecimal("11", 10), std::nullopt);
  EXPECT_EQ(ParseDecimal("18446744073709551615", std::numeric_limits<uint64_t>::max()),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(ParseDecimal("18446744073709551616", std::numeric_limits<uint64_t>::max()),
            std::nullopt);
  EXPECT_EQ(ParseDecimal("5", 0), std::nullopt);
  for (std::string_view bad : {"", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "abc"}) {
    EXPECT_EQ(ParseDecimal(bad, 1000), std::nullopt) << bad;
  }
}

TEST(ParseDecimalTest, IdText) {
  EXPECT_EQ(*ParseIdText("42", "group_id"), 42u);
  EXPECT_EQ(*ParseIdText("9007199254740991", "group_id"), 9007199254740991u);
  for (std::string_view bad : {"0", "9007199254740992", "-3", "1.5", "x", ""}) {
    StatusOr<uint64_t> v = ParseIdText(bad, "group_id");
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().message(), "group_id must be a positive integer below 2^53");
  }
}

}  // namespace
}  // namespace parley::api
