// The JSON of a chat message and of a send's acknowledgement, written by one
// encoder for every tier that sends them: the WebSocket `msg`, `ack` and
// `sync` frames (connect) and the HTTP history and send replies (api), so
// that their bytes cannot drift apart (PROTOCOL.md). Hand-written rather than
// built with Boost.JSON: it is on the push path, where it is measured
// (bench/micro/frame_codec_bench.cc). Pure functions; thread-safe.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "parley/logic.pb.h"
#include "parley/message.pb.h"

namespace parley::wire {

// `s` as a JSON string literal (quotes included), escaped as Boost.JSON does
// (\" \\ \b \f \n \r \t, other control characters as \u00XX). `s` must be
// valid UTF-8.
void AppendJsonString(std::string& out, std::string_view s);

template <typename Int>
void AppendInt(std::string& out, Int v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// `"key":` (keys are plain ASCII literals and need no escaping).
inline void AppendKey(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}
inline void AppendStringField(std::string& out, std::string_view key, std::string_view value) {
  AppendKey(out, key);
  AppendJsonString(out, value);
}
template <typename Int>
void AppendIntField(std::string& out, std::string_view key, Int value) {
  AppendKey(out, key);
  AppendInt(out, value);
}

// The fields of a message, without braces:
// "msg_id":"<decimal>","conv","seq","from","to_user"|"to_group","body","ts","id"
void AppendMessageFields(std::string& out, const rpc::ChatMessage& msg);
// {<the fields above>}: an element of `messages` (sync frame, HTTP history).
void AppendMessageJson(std::string& out, const rpc::ChatMessage& msg);
// "messages":[...],"has_more":<bool> (sync frame, HTTP history).
void AppendMessagePage(std::string& out, const rpc::SyncReply& page);
// The fields of a send's acknowledgement, without braces:
// "id","msg_id":"<decimal>","conv","seq","ts" (ack frame, HTTP send reply).
void AppendAckFields(std::string& out, std::string_view id, const rpc::SendReply& reply);

}  // namespace parley::wire
