#include "state/redis/redis_session_store.h"

#include <chrono>

#include "state/redis/redis_replies.h"

namespace parley::state {

using redis_internal::ErrorOf;
using redis_internal::ParseU64;

namespace {

// KEYS: cached session, tombstone. ARGV: value, cache ttl ms.
const char kFillLua[] = R"(
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)";

// KEYS: cached session, tombstone. ARGV: tombstone ttl ms.
const char kRevokeLua[] = R"(
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
redis.call('DEL', KEYS[1])
return 1
)";

// "<user_id>:<expires_at>"
std::string Encode(const Session& s) {
  return std::to_string(s.user_id) + ':' + std::to_string(s.expires_at);
}

std::optional<Session> Decode(const std::string& token_hash, const std::string& v) {
  size_t colon = v.find(':');
  if (colon == std::string::npos) return std::nullopt;
  auto user = ParseU64(std::string_view(v).substr(0, colon));
  std::string_view exp = std::string_view(v).substr(colon + 1);
  bool negative = !exp.empty() && exp.front() == '-';
  auto magnitude = ParseU64(negative ? exp.substr(1) : exp);
  if (!user || !magnitude) return std::nullopt;
  int64_t expires = static_cast<int64_t>(*magnitude);
  return Session{token_hash, *user, negative ? -expires : expires};
}

}  // namespace

RedisSessionStore::RedisSessionStore(std::shared_ptr<redis::RedisClient> client,
                                     store::Store& store, RedisStateOptions options)
    : client_(std::move(client)),
      store_(store),
      options_(std::move(options)),
      keys_(options_.key_prefix, options_.partitions),
      fill_script_(kFillLua),
      revoke_script_(kRevokeLua) {}

void RedisSessionStore::Fill(const Session& s, Callback<StatusOr<bool>> done) {
  client_->Eval(fill_script_, {keys_.Session(s.token_hash), keys_.SessionTombstone(s.token_hash)},
                {Encode(s), std::to_string(options_.session_cache_ttl_ms)},
                [done = std::move(done)](StatusOr<redis::Reply> r) {
                  if (!r.ok()) return done(r.status());
                  if (Status s = ErrorOf(*r); !s.ok()) return done(s);
                  done(r->integer == 1);
                });
}

void RedisSessionStore::Create(Session session, Callback<Status> done) {
  store::SessionRecord record{session.token_hash, session.user_id, session.expires_at};
  store_.CreateSession(std::move(record), [this, session = std::move(session),
                                           done = std::move(done)](Status s) mutable {
    if (!s.ok()) return done(s);
    // The session is durable; a cache that cannot be written is only slower.
    Fill(session, [done = std::move(done)](StatusOr<bool>) { done(Status::Ok()); });
  });
}

void RedisSessionStore::Find(std::string token_hash, Callback<StatusOr<Session>> done) {
  Lookup(std::move(token_hash), /*attempt=*/0, std::move(done));
}

void RedisSessionStore::Lookup(std::string token_hash, int attempt,
                               Callback<StatusOr<Session>> done) {
  auto started = std::chrono::steady_clock::now();
  client_->Pipeline(
      {{"GET", keys_.Session(token_hash)}, {"EXISTS", keys_.SessionTombstone(token_hash)}},
      [this, started, attempt, token_hash,
       done = std::move(done)](StatusOr<std::vector<redis::Reply>> replies) mutable {
        if (!replies.ok()) return done(replies.status());
        for (const auto& r : *replies) {
          if (Status s = ErrorOf(r); !s.ok()) return done(s);
        }
        const redis::Reply& cached = (*replies)[0];
        if (!cached.is_nil()) {
          if (auto s = Decode(token_hash, cached.str)) return done(std::move(*s));
        }
        if ((*replies)[1].integer == 1) return done(Status::NotFound("no such session"));
        store_.FindSession(token_hash, [this, started, attempt, token_hash, done = std::move(done)](
                                           StatusOr<store::SessionRecord> found) mutable {
          if (!found.ok()) {
            if (found.status().IsNotFound()) return done(Status::NotFound("no such session"));
            return done(found.status());
          }
          Session s{found->token_hash, found->user_id, found->expires_at};
          // Past half the tombstone's TTL, a revocation during this lookup
          // might have left no tombstone to tell: what was read may be a
          // deleted row, so read again (a slow store twice in a row is
          // answered UNAVAILABLE rather than with a row that may be revoked).
          auto elapsed = std::chrono::steady_clock::now() - started;
          if (elapsed > std::chrono::milliseconds(options_.session_tombstone_ttl_ms / 2)) {
            if (attempt > 0) return done(Status::Unavailable("session lookup too slow"));
            return Lookup(std::move(token_hash), attempt + 1, std::move(done));
          }
          // The fill is refused when a tombstone appeared meanwhile: the row
          // read may predate the revocation's delete, and this answer may
          // come after its `done`.
          Fill(s, [s, done = std::move(done)](StatusOr<bool> filled) mutable {
            if (filled.ok() && !*filled) return done(Status::NotFound("no such session"));
            if (!filled.ok()) return done(filled.status());
            done(std::move(s));
          });
        });
      });
}

void RedisSessionStore::Revoke(std::string token_hash, Callback<Status> done) {
  store_.DeleteSession(token_hash, [this, token_hash, done = std::move(done)](Status s) mutable {
    if (!s.ok()) return done(s);
    client_->Eval(revoke_script_, {keys_.Session(token_hash), keys_.SessionTombstone(token_hash)},
                  {std::to_string(options_.session_tombstone_ttl_ms)},
                  [done = std::move(done)](StatusOr<redis::Reply> r) {
                    done(r.ok() ? ErrorOf(*r) : r.status());
                  });
  });
}

}  // namespace parley::state
