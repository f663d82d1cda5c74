// The message and ack encoder must write, byte for byte, what the api wrote
// with Boost.JSON before it used this encoder: the reference below is that
// former code, so a drift in either shows here.
#include "wire/message_json.h"

#include <gtest/gtest.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace parley::wire {
namespace {

// The api's former Boost.JSON encoding of a message.
boost::json::object ReferenceMessage(const rpc::ChatMessage& m) {
  boost::json::object o{{"msg_id", std::to_string(m.msg_id())},
                        {"conv", m.conv()},
                        {"seq", m.seq()},
                        {"from", m.from()}};
  if (m.to_group() != 0) {
    o["to_group"] = m.to_group();
  } else {
    o["to_user"] = m.to_user();
  }
  o["body"] = m.body();
  o["ts"] = m.ts();
  o["id"] = m.client_id();
  return o;
}

rpc::ChatMessage Message(std::string body, uint64_t to_user, uint64_t to_group) {
  rpc::ChatMessage m;
  m.set_msg_id(18446744073709551615ULL);
  m.set_conv(to_group != 0 ? "g:" + std::to_string(to_group) : "p:3:9007199254740991");
  m.set_seq(42);
  m.set_from(3);
  m.set_to_user(to_user);
  m.set_to_group(to_group);
  m.set_body(std::move(body));
  m.set_ts(1'700'000'000'123);
  m.set_client_id("c-1_x");
  return m;
}

TEST(MessageJson, SameBytesAsBoostJson) {
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls += static_cast<char>(c);
  for (const std::string& body :
       {std::string("hello"), std::string("quote \" backslash \\ slash / tab\t"), controls,
        std::string("\xe2\x82\xac \xf0\x9f\x98\x80 \x7f"), std::string(5000, 'x')}) {
    for (auto [to_user, to_group] : {std::pair<uint64_t, uint64_t>{9007199254740991, 0}, {0, 7}}) {
      rpc::ChatMessage m = Message(body, to_user, to_group);
      std::string out;
      AppendMessageJson(out, m);
      EXPECT_EQ(out, boost::json::serialize(ReferenceMessage(m)));
    }
  }
}

TEST(MessageJson, PageAndAckAsTheHttpRepliesWroteThem) {
  rpc::SyncReply page;
  *page.add_messages() = Message("a", 9, 0);
  *page.add_messages() = Message("b", 0, 4);
  page.set_has_more(true);
  boost::json::array messages;
  for (const rpc::ChatMessage& m : page.messages()) messages.emplace_back(ReferenceMessage(m));
  std::string out = "{";
  AppendMessagePage(out, page);
  out += '}';
  EXPECT_EQ(out, boost::json::serialize(
                     boost::json::object{{"messages", std::move(messages)}, {"has_more", true}}));

  out = "{";
  AppendMessagePage(out, rpc::SyncReply());
  out += '}';
  EXPECT_EQ(out, R"({"messages":[],"has_more":false})");

  rpc::SendReply ack;
  ack.set_msg_id(1234567890123456789ULL);
  ack.set_conv("p:7:9");
  ack.set_seq(3);
  ack.set_ts(1700);
  out = "{";
  AppendAckFields(out, "c\"1", ack);
  out += '}';
  EXPECT_EQ(out, boost::json::serialize(boost::json::object{{"id", "c\"1"},
                                                            {"msg_id", "1234567890123456789"},
                                                            {"conv", "p:7:9"},
                                                            {"seq", 3},
                                                            {"ts", 1700}}));
}

TEST(MessageJson, JsonStringEscaping) {
  std::string out;
  AppendJsonString(out, std::string("a\"b\\c\n\r\t\b\f\x1f\x00z\xe2\x82\xac", 16));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u001f\\u0000z\xe2\x82\xac\"");
  // Round trip through a real parser.
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(out, ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(v.as_string(), boost::json::string_view("a\"b\\c\n\r\t\b\f\x1f\0z\xe2\x82\xac", 16));
}

}  // namespace
}  // namespace parley::wire
