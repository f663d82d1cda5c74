#include "connect/frame_codec.h"

#include <charconv>
#include <cmath>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "common/validation.h"
#include "model/conversation.h"
#include "wire/message_json.h"

namespace parley::connect {

namespace json = boost::json;
using wire::AppendMessageFields;

namespace {

void StrField(std::string& out, std::string_view key, std::string_view value) {
  wire::AppendStringField(out, key, value);
}
template <typename Int>
void IntField(std::string& out, std::string_view key, Int value) {
  wire::AppendIntField(out, key, value);
}

}  // namespace

namespace {

// ---- parsing ----

const json::value* Field(const json::object& o, std::string_view key) {
  auto it = o.find(json::string_view(key.data(), key.size()));
  return it == o.end() ? nullptr : &it->value();
}

std::string Missing(std::string_view name) { return "missing field '" + std::string(name) + "'"; }

// Reads a JSON integer in [min, max]. JSON does not distinguish integers from
// floats, so an integral float (5.0) is accepted; a fraction is not.
Status ReadInt(const json::value& v, std::string_view name, uint64_t min, uint64_t max,
               std::string_view range_rule, uint64_t& out) {
  auto range_error = [&] {
    return Status::InvalidArgument(std::string(name) + " must be " + std::string(range_rule));
  };
  if (v.is_uint64()) {
    out = v.get_uint64();
  } else if (v.is_int64()) {
    if (v.get_int64() < 0) return range_error();
    out = static_cast<uint64_t>(v.get_int64());
  } else if (v.is_double()) {
    double d = v.get_double();
    if (std::trunc(d) != d)
      return Status::InvalidArgument(std::string(name) + " must be an integer");
    // 2^64 and beyond, negatives and infinities are out of range.
    if (d < 0 || d >= 18446744073709551616.0) return range_error();
    out = static_cast<uint64_t>(d);
  } else {
    return Status::InvalidArgument(std::string(name) + " must be an integer");
  }
  if (out < min || out > max) return range_error();
  return Status::Ok();
}

Status ReadString(const json::value& v, std::string_view name, std::string& out) {
  if (!v.is_string()) return Status::InvalidArgument(std::string(name) + " must be a string");
  const json::string& s = v.get_string();
  out.assign(s.data(), s.size());
  return Status::Ok();
}

Status ReadConv(const json::object& o, std::string& out) {
  const json::value* v = Field(o, "conv");
  if (v == nullptr) return Status::InvalidArgument(Missing("conv"));
  if (Status s = ReadString(*v, "conv", out); !s.ok()) return s;
  if (!model::ConvId::Parse(out)) {
    return Status::InvalidArgument(
        "conv is not a valid conversation id (p:A:B with A <= B, or g:N)");
  }
  return Status::Ok();
}

constexpr std::string_view kIdRule = "a positive integer below 2^53";
constexpr std::string_view kSeqRule = "a non-negative integer below 2^53";

Status ParseSend(const json::object& o, const Limits& limits, ClientFrame& f) {
  if (!Field(o, "id")) return Status::InvalidArgument(Missing("id"));
  if (!f.id) return Status::InvalidArgument("id must be a string");
  if (Status s = ValidateClientId(*f.id); !s.ok()) return s;
  const json::value* to_user = Field(o, "to_user");
  const json::value* to_group = Field(o, "to_group");
  if ((to_user == nullptr) == (to_group == nullptr)) {
    return Status::InvalidArgument("send needs exactly one of to_user and to_group");
  }
  if (to_user) {
    if (Status s = ReadInt(*to_user, "to_user", 1, kMaxSafeId, kIdRule, f.to_user); !s.ok()) {
      return s;
    }
  } else {
    if (Status s = ReadInt(*to_group, "to_group", 1, kMaxSafeId, kIdRule, f.to_group); !s.ok()) {
      return s;
    }
  }
  const json::value* body = Field(o, "body");
  if (body == nullptr) return Status::InvalidArgument(Missing("body"));
  if (Status s = ReadString(*body, "body", f.body); !s.ok()) return s;
  // Logic checks this too; checking here saves a round trip to it.
  return ValidateBody(f.body, limits);
}

Status ParseSync(const json::object& o, const Limits& limits, ClientFrame& f) {
  if (Status s = ReadConv(o, f.conv); !s.ok()) return s;
  if (const json::value* v = Field(o, "after_seq")) {
    if (Status s = ReadInt(*v, "after_seq", 0, kMaxSafeId, kSeqRule, f.after_seq); !s.ok()) {
      return s;
    }
  }
  f.limit = limits.page_limit_default;
  if (const json::value* v = Field(o, "limit")) {
    std::string rule = "1 to " + std::to_string(limits.page_limit_max);
    uint64_t limit = 0;
    if (Status s = ReadInt(*v, "limit", 1, limits.page_limit_max, rule, limit); !s.ok()) return s;
    f.limit = static_cast<uint32_t>(limit);
  }
  return Status::Ok();
}

Status ParseRead(const json::object& o, ClientFrame& f) {
  if (Status s = ReadConv(o, f.conv); !s.ok()) return s;
  const json::value* v = Field(o, "seq");
  if (v == nullptr) return Status::InvalidArgument(Missing("seq"));
  return ReadInt(*v, "seq", 0, kMaxSafeId, kSeqRule, f.seq);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `text` with every \u escape of a UTF-16 surrogate replaced by \ufffd, or
// nullopt when it has none.
std::optional<std::string> ReplaceSurrogateEscapes(std::string_view text) {
  std::optional<std::string> out;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != '\\') continue;
    if (text[i + 1] == 'u' && i + 5 < text.size()) {
      int v = 0;
      for (size_t k = i + 2; k < i + 6 && v >= 0; ++k) {
        int h = HexValue(text[k]);
        v = h < 0 ? -1 : v * 16 + h;
      }
      if (v >= 0xd800 && v <= 0xdfff) {
        if (!out) out.emplace(text);
        out->replace(i + 2, 4, "fffd");
      }
    }
    ++i;  // skip the escaped character (an escaped backslash is no escape)
  }
  return out;
}

}  // namespace

Status ParseClientFrame(std::string_view text, const Limits& limits, ClientFrame& frame) {
  frame = ClientFrame{};
  // Most frames are small: parse into a stack buffer, no heap allocation.
  unsigned char scratch[2048];
  json::monotonic_resource mr(scratch, sizeof scratch);
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec, &mr);
  if (ec) {
    // JSON allows a \u escape of a lone UTF-16 surrogate, which Boost.JSON
    // refuses as it encodes no character. Refuse it too, but with the id.
    if (auto replaced = ReplaceSurrogateEscapes(text)) {
      boost::system::error_code ec2;
      json::value v = json::parse(*replaced, ec2, &mr);
      if (!ec2 && v.is_object()) {
        if (const json::value* id = Field(v.get_object(), "id"); id != nullptr && id->is_string()) {
          frame.id.emplace(id->get_string().data(), id->get_string().size());
        }
        return Status::InvalidArgument(
            "frame has a \\u escape of a lone surrogate, which is no character");
      }
    }
    return Status::InvalidArgument("frame is not valid JSON");
  }
  if (!root.is_object()) return Status::InvalidArgument("frame must be a JSON object");
  const json::object& o = root.get_object();

  if (const json::value* id = Field(o, "id"); id != nullptr && id->is_string()) {
    frame.id.emplace(id->get_string().data(), id->get_string().size());
  }
  const json::value* type = Field(o, "type");
  if (type == nullptr) return Status::InvalidArgument(Missing("type"));
  if (!type->is_string()) return Status::InvalidArgument("type must be a string");
  std::string_view t(type->get_string().data(), type->get_string().size());
  if (t == "send") {
    frame.type = ClientFrame::Type::kSend;
    return ParseSend(o, limits, frame);
  }
  if (t == "sync") {
    frame.type = ClientFrame::Type::kSync;
    return ParseSync(o, limits, frame);
  }
  if (t == "read") {
    frame.type = ClientFrame::Type::kRead;
    return ParseRead(o, frame);
  }
  if (t == "ping") {
    frame.type = ClientFrame::Type::kPing;
    return Status::Ok();
  }
  // Echo short names only, so that the message stays small.
  if (t.size() <= 32) {
    std::string m = "unknown type '";
    m += t;
    m += "' (expected send, sync, read or ping)";
    return Status::InvalidArgument(std::move(m));
  }
  return Status::InvalidArgument("unknown type (expected send, sync, read or ping)");
}

std::string HelloFrame(uint64_t user_id, uint64_t conn_id, const rpc::ConnectReply& reply) {
  std::string out;
  out.reserve(64 + 64 * static_cast<size_t>(reply.convs_size()));
  out += R"({"type":"hello",)";
  IntField(out, "user_id", user_id);
  out += ',';
  IntField(out, "conn_id", conn_id);
  out += ",\"convs\":[";
  bool first = true;
  for (const rpc::ConvState& c : reply.convs()) {
    if (!first) out += ',';
    first = false;
    out += '{';
    StrField(out, "conv", c.conv());
    out += ',';
    IntField(out, "last_seq", c.last_seq());
    out += ',';
    IntField(out, "read_seq", c.read_seq());
    out += ',';
    if (c.conv().starts_with("g:")) {
      IntField(out, "group_id", c.group_id());
    } else {
      IntField(out, "peer", c.peer());
    }
    out += '}';
  }
  // Only the first page of conversations: the rest through
  // GET /api/v1/conversations?before=<next>.
  out += "],\"has_more\":";
  out += reply.has_more() ? "true" : "false";
  if (reply.has_more()) {
    out += ',';
    StrField(out, "next", reply.next());
  }
  out += '}';
  return out;
}

std::string AckFrame(std::string_view id, const rpc::SendReply& reply) {
  std::string out;
  out.reserve(128 + id.size());
  out += R"({"type":"ack",)";
  wire::AppendAckFields(out, id, reply);
  out += '}';
  return out;
}

std::string ErrorFrame(const std::optional<std::string>& id, const Status& status,
                       int64_t retry_after_ms) {
  std::string out;
  out.reserve(64 + status.message().size() + (id ? id->size() : 0));
  out += R"({"type":"error",)";
  if (id) {
    StrField(out, "id", *id);
    out += ',';
  }
  StrField(out, "code", CodeName(status.code()));
  out += ',';
  StrField(out, "message", status.message());
  if (status.code() == Code::kRateLimited && retry_after_ms > 0) {
    out += ',';
    IntField(out, "retry_after_ms", retry_after_ms);
  }
  out += '}';
  return out;
}

std::string MsgFrame(const rpc::ChatMessage& msg) {
  std::string out;
  out.reserve(160 + msg.body().size() + msg.client_id().size());
  out += R"({"type":"msg",)";
  AppendMessageFields(out, msg);
  out += '}';
  return out;
}

std::string SyncFrame(const rpc::SyncReply& reply) {
  std::string out;
  out += R"({"type":"sync",)";
  StrField(out, "conv", reply.conv());
  out += ',';
  wire::AppendMessagePage(out, reply);
  out += '}';
  return out;
}

std::string ReadFrame(const rpc::ReadReceipt& receipt) {
  std::string out;
  out.reserve(96);
  out += R"({"type":"read",)";
  StrField(out, "conv", receipt.conv());
  out += ',';
  IntField(out, "user_id", receipt.user_id());
  out += ',';
  IntField(out, "seq", receipt.seq());
  out += '}';
  return out;
}

std::string PongFrame() { return R"({"type":"pong"})"; }

}  // namespace parley::connect
