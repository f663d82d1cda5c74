// Builders of the messages the store tests append.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "model/conversation.h"
#include "parley/message.pb.h"

namespace parley::store {

// fmt rather than `"c" + std::to_string(id)`: GCC 12 at -O3 reports a
// -Wrestrict false positive in the inlined string insert of the latter.
inline rpc::ChatMessage ChatMsg(uint64_t msg_id, const std::string& conv, uint64_t seq,
                                uint64_t from, uint64_t to_user, uint64_t to_group, int64_t ts,
                                const std::string& client_id) {
  rpc::ChatMessage m;
  m.set_msg_id(msg_id);
  m.set_conv(conv);
  m.set_seq(seq);
  m.set_from(from);
  m.set_to_user(to_user);
  m.set_to_group(to_group);
  m.set_body(fmt::format("body {}", msg_id));
  m.set_ts(ts);
  m.set_client_id(client_id);
  return m;
}

// A private message from `from` to `to` in p:min:max, with client id "c<msg_id>".
inline rpc::ChatMessage PrivateMsg(uint64_t msg_id, uint64_t from, uint64_t to, uint64_t seq,
                                   int64_t ts) {
  return ChatMsg(msg_id, model::ConvId::Private(from, to).ToString(), seq, from, to, 0, ts,
                 fmt::format("c{}", msg_id));
}

// A message of group `group_id` in g:<group_id>.
inline rpc::ChatMessage GroupMsg(uint64_t msg_id, uint64_t group_id, uint64_t seq, uint64_t from,
                                 int64_t ts, const std::string& client_id) {
  return ChatMsg(msg_id, model::ConvId::Group(group_id).ToString(), seq, from, 0, group_id, ts,
                 client_id);
}

inline std::vector<uint64_t> SeqsOf(const std::vector<rpc::ChatMessage>& messages) {
  std::vector<uint64_t> seqs;
  for (const auto& m : messages) seqs.push_back(m.seq());
  return seqs;
}

}  // namespace parley::store
