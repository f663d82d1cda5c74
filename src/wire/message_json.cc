#include "wire/message_json.h"

namespace parley::wire {

namespace {

// msg_id is a 64-bit snowflake, beyond JavaScript's safe integers: a string.
void AppendMsgIdField(std::string& out, uint64_t msg_id) {
  AppendKey(out, "msg_id");
  out += '"';
  AppendInt(out, msg_id);
  out += '"';
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void AppendMessageFields(std::string& out, const rpc::ChatMessage& m) {
  AppendMsgIdField(out, m.msg_id());
  out += ',';
  AppendStringField(out, "conv", m.conv());
  out += ',';
  AppendIntField(out, "seq", m.seq());
  out += ',';
  AppendIntField(out, "from", m.from());
  out += ',';
  if (m.to_group() != 0) {
    AppendIntField(out, "to_group", m.to_group());
  } else {
    AppendIntField(out, "to_user", m.to_user());
  }
  out += ',';
  AppendStringField(out, "body", m.body());
  out += ',';
  AppendIntField(out, "ts", m.ts());
  out += ',';
  AppendStringField(out, "id", m.client_id());
}

void AppendMessageJson(std::string& out, const rpc::ChatMessage& msg) {
  out += '{';
  AppendMessageFields(out, msg);
  out += '}';
}

void AppendMessagePage(std::string& out, const rpc::SyncReply& page) {
  size_t estimate = 32;
  for (const rpc::ChatMessage& m : page.messages()) estimate += 150 + m.body().size();
  out.reserve(out.size() + estimate);
  out += "\"messages\":[";
  bool first = true;
  for (const rpc::ChatMessage& m : page.messages()) {
    if (!first) out += ',';
    first = false;
    AppendMessageJson(out, m);
  }
  out += "],\"has_more\":";
  out += page.has_more() ? "true" : "false";
}

void AppendAckFields(std::string& out, std::string_view id, const rpc::SendReply& reply) {
  AppendStringField(out, "id", id);
  out += ',';
  AppendMsgIdField(out, reply.msg_id());
  out += ',';
  AppendStringField(out, "conv", reply.conv());
  out += ',';
  AppendIntField(out, "seq", reply.seq());
  out += ',';
  AppendIntField(out, "ts", reply.ts());
}

}  // namespace parley::wire
