#include "connect/frame_codec.h"

#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "support/test_util.h"

namespace parley::connect {
namespace {

namespace json = boost::json;

struct Parsed {
  Status status;
  ClientFrame frame;
};

Parsed Parse(std::string_view text, const Limits& limits = Limits()) {
  Parsed p;
  p.status = ParseClientFrame(text, limits, p.frame);
  return p;
}

// Expects INVALID_ARGUMENT whose message contains `needle`, and the frame's
// id as given (nullopt: no id carried).
void ExpectInvalid(std::string_view text, std::string_view needle,
                   std::optional<std::string> id = std::nullopt) {
  Parsed p = Parse(text);
  EXPECT_EQ(p.status.code(), Code::kInvalidArgument) << text;
  EXPECT_NE(p.status.message().find(needle), std::string::npos)
      << text << " -> " << p.status.message();
  EXPECT_EQ(p.frame.id, id) << text;
}

json::object ParseJson(const std::string& s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  EXPECT_FALSE(ec) << s;
  EXPECT_TRUE(v.is_object()) << s;
  return v.is_object() ? v.get_object() : json::object();
}

TEST(ParseClientFrame, Ping) {
  Parsed p = Parse(R"({"type":"ping"})");
  ASSERT_OK(p.status);
  EXPECT_EQ(p.frame.type, ClientFrame::Type::kPing);
  EXPECT_FALSE(p.frame.id);
  // Unknown extra fields are ignored (the protocol may grow).
  ASSERT_OK(Parse(R"({"type":"ping","pad":"xxxx","n":[1,2]})").status);
}

TEST(ParseClientFrame, SendPrivate) {
  Parsed p = Parse(R"({"type":"send","id":"c-1_x","to_user":42,"body":"hi \"there\" \u00e9"})");
  ASSERT_OK(p.status);
  EXPECT_EQ(p.frame.type, ClientFrame::Type::kSend);
  EXPECT_EQ(p.frame.id, "c-1_x");
  EXPECT_EQ(p.frame.to_user, 42u);
  EXPECT_EQ(p.frame.to_group, 0u);
  EXPECT_EQ(p.frame.body, "hi \"there\" \xc3\xa9");
}

TEST(ParseClientFrame, SendGroupAndLimits) {
  Parsed p = Parse(R"({"type":"send","id":"g","to_group":9007199254740991,"body":"x"})");
  ASSERT_OK(p.status);
  EXPECT_EQ(p.frame.to_group, 9007199254740991u);
  EXPECT_EQ(p.frame.to_user, 0u);
  // An integral float is an integer in JSON.
  p = Parse(R"({"type":"send","id":"f","to_user":7.0,"body":"x"})");
  ASSERT_OK(p.status);
  EXPECT_EQ(p.frame.to_user, 7u);
  // A surrogate pair is fine.
  p = Parse(R"({"type":"send","id":"e","to_user":7,"body":"\ud83d\ude00"})");
  ASSERT_OK(p.status);
  EXPECT_EQ(p.frame.body, "\xf0\x9f\x98\x80");
  // 64 characters of id, 4096 bytes of body are the most.
  std::string id(64, 'a');
  std::string body(4096, 'b');
  ASSERT_OK(
      Parse(R"({"type":"send","id":")" + id + R"(","to_user":1,"body":")" + body + "\"}").status);
}

TEST(ParseClientFrame, NotAnObject) {
  for (std::string_view raw : {"not json", "{", R"({"type":"ping")", "", "[]",
                               R"([{"type":"ping"}])", R"("ping")", "42", "null", "true"}) {
    Parsed p = Parse(raw);
    EXPECT_EQ(p.status.code(), Code::kInvalidArgument) << raw;
    EXPECT_FALSE(p.frame.id) << raw;
  }
  ExpectInvalid("{", "not valid JSON");
  ExpectInvalid("[1]", "must be a JSON object");
}

TEST(ParseClientFrame, BadType) {
  ExpectInvalid(R"({"id":"m1"})", "missing field 'type'", "m1");
  ExpectInvalid(R"({"type":5,"id":"m2"})", "type must be a string", "m2");
  ExpectInvalid(R"({"type":null,"id":"m3"})", "type must be a string", "m3");
  ExpectInvalid(R"({"type":"teleport","id":"m4"})", "unknown type 'teleport'", "m4");
  ExpectInvalid(R"({"type":"SEND","id":"m5","to_user":1,"body":"x"})", "unknown type 'SEND'", "m5");
  ExpectInvalid(R"({"type":"hello"})", "unknown type");
  ExpectInvalid(R"({"type":")" + std::string(100, 'q') + R"("})", "unknown type (");
}

TEST(ParseClientFrame, IdCarriedOnlyWhenString) {
  ExpectInvalid(R"({"type":"nope","id":12})", "unknown type");
  ExpectInvalid(R"({"type":"nope","id":""})", "unknown type", "");
  // Any string id is carried, even one that is not a valid client id.
  ExpectInvalid(R"({"type":"send","id":"bad id!","to_user":1,"body":"x"})", "id may contain",
                "bad id!");
}

TEST(ParseClientFrame, SendFieldErrors) {
  ExpectInvalid(R"({"type":"send","id":"s1","body":"x"})", "exactly one of to_user and to_group",
                "s1");
  ExpectInvalid(R"({"type":"send","id":"s2","to_user":5})", "missing field 'body'", "s2");
  ExpectInvalid(R"({"type":"send","id":"s3","to_user":"5","body":"x"})",
                "to_user must be an integer", "s3");
  ExpectInvalid(R"({"type":"send","id":"s4","to_user":-5,"body":"x"})",
                "to_user must be a positive integer below 2^53", "s4");
  ExpectInvalid(R"({"type":"send","id":"s5","to_user":5.5,"body":"x"})",
                "to_user must be an integer", "s5");
  ExpectInvalid(R"({"type":"send","id":"s6","to_user":9007199254740992,"body":"x"})", "below 2^53",
                "s6");
  ExpectInvalid(R"({"type":"send","id":"s7","to_user":5,"body":17})", "body must be a string",
                "s7");
  ExpectInvalid(R"({"type":"send","id":"s8","to_user":5,"body":""})", "body must be 1 to 4096",
                "s8");
  ExpectInvalid(R"({"type":"send","id":"s9","to_user":5,"body":")" + std::string(4097, 'x') + "\"}",
                "body must be 1 to 4096", "s9");
  ExpectInvalid(R"({"type":"send","id":"s10","to_user":5,"to_group":1,"body":"x"})", "exactly one",
                "s10");
  ExpectInvalid(R"({"type":"send","id":"s11","to_group":"1","body":"x"})",
                "to_group must be an integer", "s11");
  ExpectInvalid(R"({"type":"send","id":"s12","to_user":0,"body":"x"})", "positive integer", "s12");
  ExpectInvalid(R"({"type":"send","id":"s13","to_user":null,"body":"x"})",
                "to_user must be an integer", "s13");
  ExpectInvalid(R"({"type":"send","id":"s14","to_user":1e300,"body":"x"})", "below 2^53", "s14");
  ExpectInvalid(R"({"type":"send","id":"s15","to_user":18446744073709551616,"body":"x"})",
                "below 2^53", "s15");
  ExpectInvalid(R"({"type":"send","to_user":5,"body":"x"})", "missing field 'id'");
  ExpectInvalid(R"({"type":"send","id":12,"to_user":5,"body":"x"})", "id must be a string");
  ExpectInvalid(R"({"type":"send","id":")" + std::string(65, 'z') + R"(","to_user":5,"body":"x"})",
                "id must be 1 to 64", std::string(65, 'z'));
  ExpectInvalid(R"({"type":"send","id":"","to_user":5,"body":"x"})", "id must be 1 to 64", "");
}

TEST(ParseClientFrame, LoneSurrogateKeepsTheId) {
  // JSON allows the escape, but it is no character: the frame is refused
  // with its id.
  ExpectInvalid(R"({"type":"send","id":"sur","to_user":5,"body":"\udc00"})", "surrogate", "sur");
  ExpectInvalid(R"({"id":"hi","type":"send","to_user":5,"body":"a\ud800b"})", "surrogate", "hi");
  // An escaped backslash before "u" is no escape at all.
  Parsed p = Parse(R"({"type":"send","id":"bs","to_user":5,"body":"\\udc00"})");
  ASSERT_OK(p.status);
  EXPECT_EQ(p.frame.body, "\\udc00");
}

TEST(ParseClientFrame, Sync) {
  Limits limits;
  limits.page_limit_default = 33;
  Parsed p = Parse(R"({"type":"sync","conv":"p:1:2"})", limits);
  ASSERT_OK(p.status);
  EXPECT_EQ(p.frame.type, ClientFrame::Type::kSync);
  EXPECT_EQ(p.frame.conv, "p:1:2");
  EXPECT_EQ(p.frame.after_seq, 0u);
  EXPECT_EQ(p.frame.limit, 33u);

  p = Parse(R"({"type":"sync","conv":"g:7","after_seq":12,"limit":200,"id":"q"})");
  ASSERT_OK(p.status);
  EXPECT_EQ(p.frame.conv, "g:7");
  EXPECT_EQ(p.frame.after_seq, 12u);
  EXPECT_EQ(p.frame.limit, 200u);
  EXPECT_EQ(p.frame.id, "q");

  ExpectInvalid(R"({"type":"sync","id":"y1"})", "missing field 'conv'", "y1");
  ExpectInvalid(R"({"type":"sync","conv":5,"id":"y2"})", "conv must be a string", "y2");
  ExpectInvalid(R"({"type":"sync","conv":"p:2:1","id":"y3"})", "not a valid conversation id", "y3");
  ExpectInvalid(R"({"type":"sync","conv":"x:1"})", "not a valid conversation id");
  ExpectInvalid(R"({"type":"sync","conv":"p:1:2","after_seq":-1})",
                "after_seq must be a non-negative integer");
  ExpectInvalid(R"({"type":"sync","conv":"p:1:2","after_seq":"3"})",
                "after_seq must be an integer");
  ExpectInvalid(R"({"type":"sync","conv":"p:1:2","limit":0})", "limit must be 1 to 200");
  ExpectInvalid(R"({"type":"sync","conv":"p:1:2","limit":201})", "limit must be 1 to 200");
  ExpectInvalid(R"({"type":"sync","conv":"p:1:2","limit":"5"})", "limit must be an integer");
}

TEST(ParseClientFrame, Read) {
  Parsed p = Parse(R"({"type":"read","conv":"p:3:3","seq":9})");
  ASSERT_OK(p.status);
  EXPECT_EQ(p.frame.type, ClientFrame::Type::kRead);
  EXPECT_EQ(p.frame.conv, "p:3:3");
  EXPECT_EQ(p.frame.seq, 9u);
  ExpectInvalid(R"({"type":"read","conv":"p:3:3"})", "missing field 'seq'");
  ExpectInvalid(R"({"type":"read","seq":1})", "missing field 'conv'");
  ExpectInvalid(R"({"type":"read","conv":"p:3:3","seq":true,"id":"r"})", "seq must be an integer",
                "r");
  ExpectInvalid(R"({"type":"read","conv":"p:3:3","seq":-2})", "non-negative");
}

TEST(Serialize, MsgFramePrivate) {
  rpc::ChatMessage m;
  m.set_msg_id(18446744073709551615ull);  // beyond 2^53: must be a string
  m.set_conv("p:1:2");
  m.set_seq(5);
  m.set_from(1);
  m.set_to_user(2);
  m.set_body("line\n\"quoted\" \\ tab\t\x01 \xc3\xa9");
  m.set_ts(1700000000123);
  m.set_client_id("c1");
  m.set_origin_node("n1");  // not part of the frame
  std::string s = MsgFrame(m);
  EXPECT_EQ(s.find("origin"), std::string::npos);
  EXPECT_NE(s.find(R"("msg_id":"18446744073709551615")"), std::string::npos) << s;
  json::object o = ParseJson(s);
  EXPECT_EQ(o.at("type").as_string(), "msg");
  EXPECT_EQ(o.at("msg_id").as_string(), "18446744073709551615");
  EXPECT_EQ(o.at("conv").as_string(), "p:1:2");
  EXPECT_EQ(o.at("seq").to_number<uint64_t>(), 5u);
  EXPECT_EQ(o.at("from").to_number<uint64_t>(), 1u);
  EXPECT_EQ(o.at("to_user").to_number<uint64_t>(), 2u);
  EXPECT_FALSE(o.contains("to_group"));
  EXPECT_EQ(o.at("body").as_string(), m.body());
  EXPECT_EQ(o.at("ts").to_number<int64_t>(), 1700000000123);
  EXPECT_EQ(o.at("id").as_string(), "c1");
  EXPECT_EQ(o.size(), 9u);
}

TEST(Serialize, MsgFrameGroup) {
  rpc::ChatMessage m;
  m.set_msg_id(77);
  m.set_conv("g:9");
  m.set_seq(1);
  m.set_from(4);
  m.set_to_group(9);
  m.set_body("hey");
  m.set_ts(5);
  m.set_client_id("x");
  json::object o = ParseJson(MsgFrame(m));
  EXPECT_EQ(o.at("to_group").to_number<uint64_t>(), 9u);
  EXPECT_FALSE(o.contains("to_user"));
  EXPECT_EQ(o.at("msg_id").as_string(), "77");
}

TEST(Serialize, Ack) {
  rpc::SendReply r;
  r.set_msg_id(123456789012345678ull);
  r.set_conv("g:3");
  r.set_seq(8);
  r.set_ts(99);
  EXPECT_EQ(
      AckFrame("a-1", r),
      R"({"type":"ack","id":"a-1","msg_id":"123456789012345678","conv":"g:3","seq":8,"ts":99})");
}

TEST(Serialize, Error) {
  EXPECT_EQ(ErrorFrame(std::string("e1"), Status::NotFound("no such user")),
            R"({"type":"error","id":"e1","code":"not_found","message":"no such user"})");
  EXPECT_EQ(ErrorFrame(std::nullopt, Status::InvalidArgument("bad \"x\"")),
            R"({"type":"error","code":"invalid_argument","message":"bad \"x\""})");
  EXPECT_EQ(
      ErrorFrame(std::string("r"), Status::RateLimited("slow down"), 250),
      R"({"type":"error","id":"r","code":"rate_limited","message":"slow down","retry_after_ms":250})");
  // retry_after_ms belongs to rate_limited only.
  EXPECT_EQ(ErrorFrame(std::nullopt, Status::Internal("x"), 250),
            R"({"type":"error","code":"internal","message":"x"})");
  ParseJson(ErrorFrame(std::string("a\x01"), Status::InvalidArgument("\x7f ok")));
}

TEST(Serialize, Hello) {
  rpc::ConnectReply r;
  auto* p = r.add_convs();
  p->set_conv("p:1:5");
  p->set_last_seq(10);
  p->set_read_seq(4);
  p->set_peer(5);
  auto* g = r.add_convs();
  g->set_conv("g:12");
  g->set_last_seq(3);
  g->set_group_id(12);
  EXPECT_EQ(HelloFrame(1, 77, r), R"({"type":"hello","user_id":1,"conn_id":77,"convs":[)"
                                  R"({"conv":"p:1:5","last_seq":10,"read_seq":4,"peer":5},)"
                                  R"({"conv":"g:12","last_seq":3,"read_seq":0,"group_id":12}],)"
                                  R"("has_more":false})");
  EXPECT_EQ(HelloFrame(2, 1, rpc::ConnectReply()),
            R"({"type":"hello","user_id":2,"conn_id":1,"convs":[],"has_more":false})");
  // More than one page: where the next one starts.
  r.set_has_more(true);
  r.set_next("0~g:12");
  EXPECT_TRUE(HelloFrame(1, 77, r).ends_with(R"(}],"has_more":true,"next":"0~g:12"})"));
}

TEST(Serialize, SyncReadPong) {
  rpc::SyncReply r;
  r.set_conv("p:1:2");
  r.set_has_more(true);
  for (int i = 1; i <= 2; ++i) {
    auto* m = r.add_messages();
    m->set_msg_id(100 + i);
    m->set_conv("p:1:2");
    m->set_seq(i);
    m->set_from(1);
    m->set_to_user(2);
    m->set_body("b" + std::to_string(i));
    m->set_ts(1000 + i);
    m->set_client_id("c" + std::to_string(i));
  }
  json::object o = ParseJson(SyncFrame(r));
  EXPECT_EQ(o.at("type").as_string(), "sync");
  EXPECT_EQ(o.at("conv").as_string(), "p:1:2");
  EXPECT_EQ(o.at("has_more").as_bool(), true);
  const json::array& msgs = o.at("messages").as_array();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1].at("msg_id").as_string(), "102");
  EXPECT_EQ(msgs[1].at("seq").to_number<uint64_t>(), 2u);
  EXPECT_FALSE(msgs[0].as_object().contains("type"));
  EXPECT_EQ(SyncFrame(rpc::SyncReply()),
            R"({"type":"sync","conv":"","messages":[],"has_more":false})");

  rpc::ReadReceipt rr;
  rr.set_conv("g:4");
  rr.set_user_id(6);
  rr.set_seq(11);
  rr.set_origin_conn(3);
  EXPECT_EQ(ReadFrame(rr), R"({"type":"read","conv":"g:4","user_id":6,"seq":11})");
  EXPECT_EQ(PongFrame(), R"({"type":"pong"})");
}

}  // namespace
}  // namespace parley::connect
