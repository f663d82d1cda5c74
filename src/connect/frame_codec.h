// The JSON frames of the WebSocket protocol (PROTOCOL.md, "WebSocket"):
// parsing and validating what a client sends, serializing what the server
// sends. Chat messages and acks are written by the shared encoder of
// wire/message_json.h. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/options.h"
#include "common/status.h"
#include "parley/connect.pb.h"
#include "parley/logic.pb.h"

namespace parley::connect {

// One validated client frame. Only the fields of its type are meaningful.
struct ClientFrame {
  enum class Type { kSend, kSync, kRead, kPing };
  Type type = Type::kPing;
  // The frame's "id" when it was a JSON string (also when the frame was
  // otherwise invalid): echoed on error frames. For `send`, a valid client id.
  std::optional<std::string> id;
  uint64_t to_user = 0;  // send: exactly one of to_user / to_group is set
  uint64_t to_group = 0;
  std::string body;        // send
  std::string conv;        // sync, read: a well-formed conversation id
  uint64_t after_seq = 0;  // sync (default 0)
  uint32_t limit = 0;      // sync (default limits.page_limit_default)
  uint64_t seq = 0;        // read
};

// Parses one text frame. On error returns INVALID_ARGUMENT with a message
// naming what was wrong, and `frame.id` still holds the frame's string id
// when it had one.
Status ParseClientFrame(std::string_view text, const Limits& limits, ClientFrame& frame);

// Server frames. Every id (user, group, seq) is a JSON number; msg_id is a
// decimal string.
std::string HelloFrame(uint64_t user_id, uint64_t conn_id, const rpc::ConnectReply& reply);
std::string AckFrame(std::string_view id, const rpc::SendReply& reply);
// `id` is omitted when absent; retry_after_ms is included when > 0 and the
// code is RATE_LIMITED.
std::string ErrorFrame(const std::optional<std::string>& id, const Status& status,
                       int64_t retry_after_ms = 0);
std::string MsgFrame(const rpc::ChatMessage& msg);
std::string SyncFrame(const rpc::SyncReply& reply);
std::string ReadFrame(const rpc::ReadReceipt& receipt);
std::string PongFrame();

}  // namespace parley::connect
