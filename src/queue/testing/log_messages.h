// Builders of the messages the message log tests append.
#pragma once

#include <cstdint>
#include <vector>

#include <fmt/format.h>

#include "parley/message.pb.h"

namespace parley::queue {

// Message `id` of p:1:2 with every field set, the routing ones included.
inline rpc::ChatMessage LogMsg(uint64_t id) {
  rpc::ChatMessage m;
  m.set_msg_id(id);
  m.set_conv("p:1:2");
  m.set_seq(id);
  m.set_from(1);
  m.set_to_user(2);
  m.set_body(fmt::format("hello {}", id));
  m.set_ts(1000 + static_cast<int64_t>(id));
  m.set_client_id(fmt::format("c{}", id));
  m.set_origin_node("node-a");
  m.set_origin_conn(77);
  return m;
}

// Messages first, first + 1, ..., first + n - 1.
inline std::vector<rpc::ChatMessage> LogMsgs(uint64_t first, uint64_t n) {
  std::vector<rpc::ChatMessage> v;
  for (uint64_t i = 0; i < n; ++i) v.push_back(LogMsg(first + i));
  return v;
}

// first, first + 1, ..., last.
inline std::vector<uint64_t> Ids(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t id = first; id <= last; ++id) v.push_back(id);
  return v;
}

}  // namespace parley::queue
