#include "state/redis/redis_recent_window.h"

#include <map>

#include "state/redis/redis_replies.h"

namespace parley::state {

using redis_internal::ErrorOf;
using redis_internal::Gather;
using redis_internal::ParseU64;

namespace {

// KEYS: per conversation of a partition, its window and its byte count.
// ARGV: cap, idle ttl ms, byte cap, then per conversation: the number of its
// messages, then (seq, payload) for each.
const char kAddLua[] = R"(
local cap = tonumber(ARGV[1])
local ttl = ARGV[2]
local max_bytes = tonumber(ARGV[3])
local pos = 4
for i = 1, #KEYS, 2 do
  local k = KEYS[i]
  local kb = KEYS[i + 1]
  local count = tonumber(ARGV[pos])
  pos = pos + 1
  local bytes = tonumber(redis.call('GET', kb) or '-1')
  if bytes < 0 then
    bytes = 0
    for _, m in ipairs(redis.call('ZRANGE', k, 0, -1)) do bytes = bytes + #m end
  end
  for j = 1, count do
    local seq = ARGV[pos]
    local payload = ARGV[pos + 1]
    pos = pos + 2
    local s = tonumber(seq)
    local top = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
    if top[2] == nil or s == tonumber(top[2]) + 1 then
      redis.call('ZADD', k, seq, payload)
      bytes = bytes + #payload
    elseif s <= tonumber(top[2]) and redis.call('ZCOUNT', k, seq, seq) > 0 then
      -- already held
    else
      redis.call('DEL', k)
      redis.call('ZADD', k, seq, payload)
      bytes = #payload
    end
  end
  local n = redis.call('ZCARD', k)
  while n > 1 and (n > cap or bytes > max_bytes) do
    local oldest = redis.call('ZPOPMIN', k)
    bytes = bytes - #oldest[1]
    n = n - 1
  end
  redis.call('PEXPIRE', k, ttl)
  redis.call('SET', kb, bytes, 'PX', ttl)
end
return 1
)";

Status FirstError(const std::vector<StatusOr<redis::Reply>>& replies) {
  for (const auto& r : replies) {
    Status s = r.ok() ? ErrorOf(*r) : r.status();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

RedisRecentWindow::RedisRecentWindow(std::shared_ptr<redis::RedisClient> client,
                                     RedisStateOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      keys_(options_.key_prefix, options_.partitions),
      add_script_(kAddLua) {}

void RedisRecentWindow::Add(std::vector<rpc::ChatMessage> messages, int64_t now_ms,
                            Callback<Status> done) {
  // partition -> conv -> messages, each in the order given.
  std::map<uint32_t, std::map<std::string, std::vector<const rpc::ChatMessage*>>> by_partition;
  std::vector<std::vector<std::string>> new_convs;
  const std::string keep_from = std::to_string(now_ms - options_.new_conversation_keep_ms);
  auto note_new = [&](uint64_t user, const std::string& conv, uint64_t peer) {
    std::string key = keys_.NewConversations(user);
    new_convs.push_back(
        {"ZADD", key, "NX", std::to_string(now_ms), conv + '|' + std::to_string(peer)});
    new_convs.push_back({"ZREMRANGEBYSCORE", key, "-inf", "(" + keep_from});
    new_convs.push_back(
        {"ZREMRANGEBYRANK", key, "0",
         std::to_string(-static_cast<int64_t>(options_.new_conversations_max) - 1)});
    new_convs.push_back({"PEXPIRE", key, std::to_string(options_.new_conversation_keep_ms)});
  };
  for (rpc::ChatMessage& m : messages) {
    m.clear_request_id();
    m.clear_origin_node();
    m.clear_origin_conn();
    by_partition[keys_.PartitionOf(m.conv())][m.conv()].push_back(&m);
    if (m.seq() == 1 && m.to_user() != 0) {
      note_new(m.from(), m.conv(), m.to_user());
      if (m.to_user() != m.from()) note_new(m.to_user(), m.conv(), m.from());
    }
  }
  size_t calls = by_partition.size() + (new_convs.empty() ? 0 : 1);
  if (calls == 0) return done(Status::Ok());
  auto gather = Gather<StatusOr<redis::Reply>>::Create(
      calls, [done = std::move(done)](std::vector<StatusOr<redis::Reply>> replies) {
        done(FirstError(replies));
      });
  size_t slot = 0;
  for (const auto& [p, convs] : by_partition) {
    std::vector<std::string> keys, args = {std::to_string(options_.recent_per_conv),
                                           std::to_string(options_.recent_idle_ttl_ms),
                                           std::to_string(options_.recent_conv_max_bytes)};
    for (const auto& [conv, msgs] : convs) {
      keys.push_back(keys_.Recent(conv));
      keys.push_back(keys_.RecentBytes(conv));
      args.push_back(std::to_string(msgs.size()));
      for (const rpc::ChatMessage* m : msgs) {
        args.push_back(std::to_string(m->seq()));
        args.push_back(m->SerializeAsString());
      }
    }
    client_->Eval(add_script_, std::move(keys), std::move(args), gather->Slot(slot++));
  }
  if (!new_convs.empty()) {
    client_->Pipeline(std::move(new_convs),
                      [cb = gather->Slot(slot++)](StatusOr<std::vector<redis::Reply>> replies) {
                        if (!replies.ok()) return cb(replies.status());
                        for (auto& r : *replies) {
                          if (r.is_error()) return cb(std::move(r));
                        }
                        cb(redis::Reply{});
                      });
  }
}

void RedisRecentWindow::Range(std::string conv, uint64_t lo, uint64_t hi,
                              Callback<StatusOr<std::vector<rpc::ChatMessage>>> done) {
  if (lo == 0 || lo > hi) return done(std::vector<rpc::ChatMessage>{});
  uint64_t limit = std::min<uint64_t>(hi - lo + 1, options_.recent_per_conv);
  client_->Command({"ZRANGEBYSCORE", keys_.Recent(conv), std::to_string(lo), std::to_string(hi),
                    "LIMIT", "0", std::to_string(limit)},
                   [lo, done = std::move(done)](StatusOr<redis::Reply> reply) {
                     if (!reply.ok()) return done(reply.status());
                     if (Status s = ErrorOf(*reply); !s.ok()) return done(s);
                     std::vector<rpc::ChatMessage> out;
                     for (const redis::Reply& e : reply->elements) {
                       rpc::ChatMessage m;
                       if (!m.ParseFromString(e.str))
                         return done(Status::Internal("redis: malformed message"));
                       // Contiguous from lo: stop at anything else.
                       if (m.seq() != lo + out.size()) break;
                       out.push_back(std::move(m));
                     }
                     done(std::move(out));
                   });
}

void RedisRecentWindow::NewConversations(
    uint64_t user_id, int64_t now_ms,
    Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) {
  client_->Command({"ZRANGEBYSCORE", keys_.NewConversations(user_id),
                    std::to_string(now_ms - options_.new_conversation_keep_ms), "+inf", "LIMIT",
                    "0", std::to_string(options_.new_conversations_max)},
                   [done = std::move(done)](StatusOr<redis::Reply> reply) {
                     if (!reply.ok()) return done(reply.status());
                     if (Status s = ErrorOf(*reply); !s.ok()) return done(s);
                     std::vector<std::pair<std::string, uint64_t>> out;
                     for (const redis::Reply& e : reply->elements) {
                       size_t bar = e.str.rfind('|');
                       auto peer = bar == std::string::npos
                                       ? std::nullopt
                                       : ParseU64(std::string_view(e.str).substr(bar + 1));
                       if (!peer)
                         return done(Status::Internal("redis: malformed new conversation"));
                       out.emplace_back(e.str.substr(0, bar), *peer);
                     }
                     done(std::move(out));
                   });
}

}  // namespace parley::state
