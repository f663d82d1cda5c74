#include "state/redis/redis_idempotency_store.h"

#include <chrono>
#include <mutex>
#include <random>
#include <unordered_map>

#include <boost/asio/steady_timer.hpp>

#include "state/redis/redis_replies.h"
#include "state/redis/redis_state_keys.h"

namespace parley::state {

using redis_internal::ErrorOf;

namespace {

// KEYS: record, line (list of tokens), waiters (token -> deadline ms).
// ARGV: token, claim ttl ms, waiter stale ms.
// Returns {1} owned, {2, ack} acked before, {0} wait in line.
const char kClaimLua[] = R"(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('GET', KEYS[1])
local mine = 'P' .. ARGV[1]
local function leave()
  redis.call('LREM', KEYS[2], 0, ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
end
if v and string.sub(v, 1, 1) == 'A' then
  leave()
  return {2, string.sub(v, 2)}
end
if v == mine then return {1} end
while true do
  local head = redis.call('LINDEX', KEYS[2], 0)
  if not head or head == ARGV[1] then break end
  local deadline = tonumber(redis.call('HGET', KEYS[3], head) or '0')
  if deadline >= now then break end
  redis.call('LPOP', KEYS[2])
  redis.call('HDEL', KEYS[3], head)
end
local head = redis.call('LINDEX', KEYS[2], 0)
if not v and (not head or head == ARGV[1]) then
  leave()
  redis.call('SET', KEYS[1], mine, 'PX', ARGV[2])
  return {1}
end
local deadline = string.format('%.0f', now + tonumber(ARGV[3]))
if redis.call('HSET', KEYS[3], ARGV[1], deadline) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
local keep = string.format('%.0f', tonumber(ARGV[2]) + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[2], keep)
redis.call('PEXPIRE', KEYS[3], keep)
return {0}
)";

// KEYS: record. ARGV: our pending value.
const char kReleaseLua[] = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
)";

using Clock = std::chrono::steady_clock;

}  // namespace

struct RedisIdempotencyStore::Impl : std::enable_shared_from_this<Impl> {
  struct Waiter {
    std::string record, line, waiters;  // keys
    std::string token;
    Callback<StatusOr<state::Claim>> done;
    Clock::time_point deadline;
    uint32_t backoff_ms = 0;
  };
  using WaiterPtr = std::shared_ptr<Waiter>;
  struct Owned {
    std::string token;
    Clock::time_point expires;
  };

  Impl(std::shared_ptr<redis::RedisClient> c, boost::asio::any_io_executor e, RedisStateOptions o)
      : client(std::move(c)),
        ex(std::move(e)),
        options(std::move(o)),
        keys(options.key_prefix, options.partitions),
        claim_script(kClaimLua),
        release_script(kReleaseLua) {
    std::random_device rd;
    token_prefix = options.node_id + ':' + std::to_string((uint64_t{rd()} << 32) ^ rd()) + ':';
  }

  void Ask(WaiterPtr w) {
    client->Eval(claim_script, {w->record, w->line, w->waiters},
                 {w->token, std::to_string(options.claim_ttl_ms),
                  std::to_string(options.claim_waiter_stale_ms)},
                 [self = shared_from_this(), w](StatusOr<redis::Reply> reply) mutable {
                   self->OnAnswer(std::move(w), std::move(reply));
                 });
  }

  void OnAnswer(WaiterPtr w, StatusOr<redis::Reply> reply) {
    if (!reply.ok()) {
      // The connection failed: Redis may have made the claim and lost only
      // the reply. Nobody would release it, and every retry of the send
      // would wait in line until it expired.
      Unclaim(w->record, "P" + w->token, ClaimExpiry(), nullptr);
      return w->done(reply.status());
    }
    if (Status s = ErrorOf(*reply); !s.ok()) return w->done(s);
    const auto& e = reply->elements;
    if (reply->type != redis::Reply::Type::kArray || e.empty()) {
      return w->done(Status::Internal("redis: malformed claim reply"));
    }
    if (e[0].integer == 1) {
      {
        std::lock_guard lock(mu);
        if (owned.size() >= kSweepAt) Sweep();
        owned[w->record] = {w->token, ClaimExpiry()};
      }
      return w->done(state::Claim{true, {}});
    }
    if (e[0].integer == 2 && e.size() == 2) {
      state::Claim c;
      if (!c.first_ack.ParseFromString(e[1].str)) {
        return w->done(Status::Internal("redis: malformed idempotency record"));
      }
      return w->done(std::move(c));
    }
    if (Clock::now() > w->deadline) {
      return w->done(Status::Unavailable("timed out waiting for an earlier send with this id"));
    }
    w->backoff_ms = w->backoff_ms == 0 ? options.claim_poll_min_ms
                                       : std::min(options.claim_poll_max_ms, w->backoff_ms * 2);
    auto timer =
        std::make_shared<boost::asio::steady_timer>(ex, std::chrono::milliseconds(w->backoff_ms));
    timer->async_wait(
        [self = shared_from_this(), w, timer](const boost::system::error_code&) { self->Ask(w); });
  }

  Clock::time_point ClaimExpiry() const {
    return Clock::now() + std::chrono::milliseconds(options.claim_ttl_ms);
  }

  // Deletes our pending claim (`value`) of `record`, retried through a
  // restart of Redis (EvalUntilAnswered): a claim left behind holds every
  // retry of its send in line for claim_ttl_ms.
  void Unclaim(std::string record, std::string value, Clock::time_point expires,
               Callback<Status> done) {
    Callback<StatusOr<redis::Reply>> answered;
    if (done) {
      answered = [done = std::move(done)](StatusOr<redis::Reply> r) {
        done(r.ok() ? ErrorOf(*r) : r.status());
      };
    }
    redis_internal::EvalUntilAnswered(client, ex, release_script, {std::move(record)},
                                      {std::move(value)}, expires, std::move(answered));
  }

  // Forgets owned claims past their TTL (an owner that never completed nor
  // released). With mu held.
  void Sweep() {
    auto now = Clock::now();
    std::erase_if(owned, [&](const auto& kv) { return kv.second.expires < now; });
  }

  static constexpr size_t kSweepAt = 100'000;

  std::shared_ptr<redis::RedisClient> client;
  boost::asio::any_io_executor ex;
  const RedisStateOptions options;
  const RedisStateKeys keys;
  const redis::Script claim_script, release_script;
  std::string token_prefix;

  std::mutex mu;
  // State below is guarded by mu.
  std::unordered_map<std::string, Owned> owned;  // record key -> our pending claim
  uint64_t next_token = 1;
};

RedisIdempotencyStore::RedisIdempotencyStore(std::shared_ptr<redis::RedisClient> client,
                                             boost::asio::any_io_executor ex,
                                             RedisStateOptions options)
    : impl_(std::make_shared<Impl>(std::move(client), std::move(ex), std::move(options))) {}

RedisIdempotencyStore::~RedisIdempotencyStore() = default;

void RedisIdempotencyStore::Claim(SendKey key, int64_t, Callback<StatusOr<state::Claim>> done) {
  auto w = std::make_shared<Impl::Waiter>();
  const RedisStateKeys& k = impl_->keys;
  w->record = k.Sent(key.conv, key.from, key.client_id);
  w->line = k.SentLine(key.conv, key.from, key.client_id);
  w->waiters = k.SentWaiters(key.conv, key.from, key.client_id);
  w->done = std::move(done);
  w->deadline = Clock::now() + std::chrono::milliseconds(2 * uint64_t{impl_->options.claim_ttl_ms} +
                                                         impl_->options.claim_waiter_stale_ms);
  {
    std::lock_guard lock(impl_->mu);
    w->token = impl_->token_prefix + std::to_string(impl_->next_token++);
  }
  impl_->Ask(std::move(w));
}

void RedisIdempotencyStore::Complete(std::vector<std::pair<SendKey, rpc::SendReply>> acks,
                                     Callback<Status> done) {
  if (acks.empty()) return done(Status::Ok());
  std::vector<std::vector<std::string>> commands;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [key, ack] : acks) {
      std::string record = impl_->keys.Sent(key.conv, key.from, key.client_id);
      impl_->owned.erase(record);
      commands.push_back({"SET", std::move(record), "A" + ack.SerializeAsString(), "PX",
                          std::to_string(impl_->options.idempotency_ttl_ms)});
    }
  }
  impl_->client->Pipeline(std::move(commands),
                          [done = std::move(done)](StatusOr<std::vector<redis::Reply>> replies) {
                            if (!replies.ok()) return done(replies.status());
                            for (const auto& r : *replies) {
                              if (Status s = ErrorOf(r); !s.ok()) return done(s);
                            }
                            done(Status::Ok());
                          });
}

void RedisIdempotencyStore::Release(std::vector<SendKey> keys, Callback<Status> done) {
  struct Ours {
    std::string record, value;  // value: our pending claim
    Clock::time_point expires;
  };
  std::vector<Ours> ours;
  {
    std::lock_guard lock(impl_->mu);
    for (const SendKey& key : keys) {
      std::string record = impl_->keys.Sent(key.conv, key.from, key.client_id);
      auto it = impl_->owned.find(record);
      if (it == impl_->owned.end()) continue;  // not ours: nothing to release
      ours.push_back({std::move(record), "P" + it->second.token, it->second.expires});
      impl_->owned.erase(it);
    }
  }
  if (ours.empty()) return done(Status::Ok());
  auto gather = redis_internal::Gather<Status>::Create(
      ours.size(), [done = std::move(done)](std::vector<Status> statuses) {
        for (const Status& s : statuses) {
          if (!s.ok()) return done(s);
        }
        done(Status::Ok());
      });
  for (size_t i = 0; i < ours.size(); ++i) {
    impl_->Unclaim(std::move(ours[i].record), std::move(ours[i].value), ours[i].expires,
                   gather->Slot(i));
  }
}

}  // namespace parley::state
