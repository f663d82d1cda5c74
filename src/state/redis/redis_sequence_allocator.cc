#include "state/redis/redis_sequence_allocator.h"

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/steady_timer.hpp>

#include "state/redis/redis_replies.h"
#include "state/redis/redis_state_keys.h"

namespace parley::state {

using redis_internal::ErrorOf;
using redis_internal::Gather;
using redis_internal::U64Of;

namespace {

// Seqs are decimal strings without leading zeros: compared by length first,
// so that counters beyond 2^53 (Lua's exact integers) compare right too.
constexpr char kLuaGreater[] = R"(
local function greater(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
)";

// KEYS: n lease keys, n want keys, n counters. ARGV: lease id, lease ttl ms,
// want ttl ms. Takes every lease, or none and reserves the next turn of the
// held ones. Returns {1, counter or nil...} or {0}.
// A reservation of the next turn ("want") is "<passes>|<lease id>": passes
// counts the hand-overs between local leases made since it was set.
constexpr char kLuaWant[] = R"(
local function want_of(w)
  if not w then return nil, 0 end
  local passes, id = string.match(w, '^(%d+)|(.*)$')
  return id, tonumber(passes)
end
)";

// KEYS: n lease keys, n want keys, n counters. ARGV: lease id, lease ttl ms,
// want ttl ms. Takes every lease, or none and reserves the next turn of the
// held ones. Returns {1, counter or nil...} or {0}.
const std::string kLeaseLua = std::string(kLuaWant) + R"(
local n = #KEYS / 3
local blocked = false
for i = 1, n do
  local holder = redis.call('GET', KEYS[i])
  if holder then
    if holder ~= ARGV[1] then blocked = true end
  else
    local want = want_of(redis.call('GET', KEYS[n + i]))
    if want and want ~= ARGV[1] then blocked = true end
  end
end
if blocked then
  for i = 1, n do
    local holder = redis.call('GET', KEYS[i])
    if holder and holder ~= ARGV[1] then
      local w = redis.call('GET', KEYS[n + i])
      local want = want_of(w)
      if not want then
        redis.call('SET', KEYS[n + i], '0|' .. ARGV[1], 'PX', ARGV[3])
      elseif want == ARGV[1] then
        redis.call('PEXPIRE', KEYS[n + i], ARGV[3])
      end
    end
  end
  return {0}
end
local out = {1}
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  if want_of(redis.call('GET', KEYS[n + i])) == ARGV[1] then redis.call('DEL', KEYS[n + i]) end
  out[i + 1] = redis.call('GET', KEYS[2 * n + i])
end
return out
)";

// KEYS as for kLeaseLua. ARGV: lease id, lease ttl ms, hand-overs allowed
// while another process waits, then per conversation the last used seq (''
// when aborting) and the next local holder's lease id ('' for none). Raises
// the counters, then frees or hands over the leases that are still ours.
const std::string kFinishLua = std::string(kLuaGreater) + kLuaWant + R"(
local n = #KEYS / 3
for i = 1, n do
  local last = ARGV[2 + 2 * i]
  local nxt = ARGV[3 + 2 * i]
  if last ~= '' then
    local cur = redis.call('GET', KEYS[2 * n + i])
    if not cur or greater(last, cur) then redis.call('SET', KEYS[2 * n + i], last) end
  end
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    local w = redis.call('GET', KEYS[n + i])
    local want, passes = want_of(w)
    if nxt ~= '' and (not want or passes < tonumber(ARGV[3])) then
      redis.call('SET', KEYS[i], nxt, 'PX', ARGV[2])
      if want then
        redis.call('SET', KEYS[n + i], tostring(passes + 1) .. '|' .. want, 'KEEPTTL')
      end
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
return 1
)";

// KEYS: counter, marker. ARGV: the store's last seq, the same plus the gap.
const char kSeedLua[] = R"(
local m = redis.call('GET', KEYS[2])
if not m then return redis.error_reply('UNINITIALIZED') end
local v = ARGV[1]
if m == 'gap' then v = ARGV[2] end
redis.call('SET', KEYS[1], v, 'NX')
return redis.call('GET', KEYS[1])
)";

using Clock = std::chrono::steady_clock;

}  // namespace

struct RedisSequenceAllocator::Impl : std::enable_shared_from_this<Impl> {
  struct Group {
    uint32_t partition = 0;
    std::vector<size_t> claims;  // indices into Request::claims
  };
  struct Request {
    uint64_t id = 0;
    std::string lease_id;
    std::vector<SeqClaim> claims;
    Callback<StatusOr<SeqLease>> done;
    // Redis acquisition, driven by one chain of callbacks at a time.
    std::vector<Group> groups;  // ascending partition
    size_t taken = 0;           // groups whose leases are ours
    std::vector<std::optional<uint64_t>> counters;
    Clock::time_point first_taken;
    uint32_t backoff_ms = 0;
  };
  struct Open {
    std::string lease_id;
    std::vector<SeqClaim> claims;
    std::vector<uint64_t> first;
  };
  using RequestPtr = std::shared_ptr<Request>;

  Impl(std::shared_ptr<redis::RedisClient> c, boost::asio::any_io_executor e, store::Store& s,
       RedisStateOptions o)
      : client(std::move(c)),
        ex(std::move(e)),
        store(s),
        options(std::move(o)),
        keys(options.key_prefix, options.partitions),
        lease_script(kLeaseLua),
        finish_script(kFinishLua),
        seed_script(kSeedLua) {
    std::random_device rd;
    rng.seed((uint64_t{rd()} << 32) ^ rd());
    lease_prefix = options.node_id + ':' + std::to_string(rng()) + ':';
  }

  // --- local admission: FIFO per conversation within this process ---

  // Admits, in order, every waiting request none of whose conversations is
  // held or wanted by an earlier waiting request. With mu held.
  std::vector<RequestPtr> AdmitWaiting() {
    std::vector<RequestPtr> admitted;
    std::unordered_set<std::string> wanted;
    for (auto it = waiting.begin(); it != waiting.end();) {
      bool free = true;
      for (const SeqClaim& c : (*it)->claims) {
        if (held.contains(c.conv) || wanted.contains(c.conv)) free = false;
      }
      if (free) {
        for (const SeqClaim& c : (*it)->claims) held.insert(c.conv);
        admitted.push_back(std::move(*it));
        it = waiting.erase(it);
      } else {
        for (const SeqClaim& c : (*it)->claims) wanted.insert(c.conv);
        ++it;
      }
    }
    return admitted;
  }

  void StartAll(std::vector<RequestPtr> admitted) {
    for (RequestPtr& r : admitted) TakeNextGroup(std::move(r));
  }

  // --- Redis acquisition ---

  std::vector<std::string> GroupKeys(const std::vector<SeqClaim>& claims,
                                     const std::vector<size_t>& idx) const {
    std::vector<std::string> k;
    k.reserve(idx.size() * 3);
    for (size_t i : idx) k.push_back(keys.Lease(claims[i].conv));
    for (size_t i : idx) k.push_back(keys.LeaseWant(claims[i].conv));
    for (size_t i : idx) k.push_back(keys.Seq(claims[i].conv));
    return k;
  }

  void TakeNextGroup(RequestPtr r) {
    if (r->taken == r->groups.size()) return SeedMissing(std::move(r));
    const Group& g = r->groups[r->taken];
    client->Eval(lease_script, GroupKeys(r->claims, g.claims),
                 {r->lease_id, std::to_string(options.lease_ttl_ms),
                  std::to_string(options.lease_want_ttl_ms)},
                 [self = shared_from_this(), r](StatusOr<redis::Reply> reply) mutable {
                   self->OnLeaseReply(std::move(r), std::move(reply));
                 });
  }

  void OnLeaseReply(RequestPtr r, StatusOr<redis::Reply> reply) {
    if (!reply.ok()) {
      // Lost with the connection: the script may have taken this group too.
      FreeGroup(*r, r->taken);
      return Fail(std::move(r), reply.status());
    }
    if (Status s = ErrorOf(*reply); !s.ok()) return Fail(std::move(r), s);
    const auto& e = reply->elements;
    if (reply->type != redis::Reply::Type::kArray || e.empty()) {
      return Fail(std::move(r), Status::Internal("redis: malformed lease reply"));
    }
    const Group& g = r->groups[r->taken];
    if (e[0].integer == 1) {
      if (e.size() != g.claims.size() + 1) {
        return Fail(std::move(r), Status::Internal("redis: malformed lease reply"));
      }
      for (size_t j = 0; j < g.claims.size(); ++j) {
        if (e[j + 1].is_nil()) continue;  // seeded below
        auto v = U64Of(e[j + 1]);
        if (!v) return Fail(std::move(r), Status::Internal("redis: malformed seq counter"));
        r->counters[g.claims[j]] = *v;
      }
      if (r->taken++ == 0) r->first_taken = Clock::now();
      r->backoff_ms = 0;
      return TakeNextGroup(std::move(r));
    }
    // Held by another process. Leases kept while waiting may expire: past
    // half their TTL, give them all back and start over.
    if (r->taken > 0 &&
        Clock::now() - r->first_taken > std::chrono::milliseconds(options.lease_ttl_ms / 2)) {
      FreeTaken(*r);
      r->taken = 0;
      for (auto& c : r->counters) c.reset();
    }
    r->backoff_ms = r->backoff_ms == 0 ? options.lease_retry_min_ms
                                       : std::min(options.lease_retry_max_ms, r->backoff_ms * 2);
    uint32_t delay;
    {
      std::lock_guard lock(mu);
      delay = std::uniform_int_distribution<uint32_t>(r->backoff_ms / 2 + 1, r->backoff_ms)(rng);
    }
    auto timer = std::make_shared<boost::asio::steady_timer>(ex, std::chrono::milliseconds(delay));
    timer->async_wait([self = shared_from_this(), r, timer](const boost::system::error_code&) {
      self->TakeNextGroup(r);
    });
  }

  // Seeds every counter the lease scripts found missing, then grants.
  void SeedMissing(RequestPtr r) {
    std::vector<size_t> missing;
    for (size_t i = 0; i < r->counters.size(); ++i) {
      if (!r->counters[i]) missing.push_back(i);
    }
    if (missing.empty()) return Grant(std::move(r));
    auto gather = Gather<StatusOr<uint64_t>>::Create(
        missing.size(),
        [self = shared_from_this(), r, missing](std::vector<StatusOr<uint64_t>> seeded) mutable {
          for (size_t j = 0; j < missing.size(); ++j) {
            if (!seeded[j].ok()) return self->Fail(std::move(r), seeded[j].status());
            r->counters[missing[j]] = *seeded[j];
          }
          self->Grant(std::move(r));
        });
    for (size_t j = 0; j < missing.size(); ++j) Seed(r->claims[missing[j]].conv, gather->Slot(j));
  }

  void Grant(RequestPtr r) {
    SeqLease lease;
    lease.id = r->id;
    for (auto& c : r->counters) lease.first.push_back(*c + 1);
    {
      std::lock_guard lock(mu);
      open[r->id] = Open{r->lease_id, std::move(r->claims), lease.first};
    }
    r->done(std::move(lease));
  }

  // Gives back what the request took, frees its conversations locally and
  // answers it with `status`.
  void Fail(RequestPtr r, Status status) {
    FreeTaken(*r);
    std::vector<RequestPtr> admitted;
    {
      std::lock_guard lock(mu);
      for (const SeqClaim& c : r->claims) held.erase(c.conv);
      admitted = AdmitWaiting();
    }
    StartAll(std::move(admitted));
    r->done(std::move(status));
  }

  // Frees the leases of the groups taken so far.
  void FreeTaken(const Request& r) {
    for (size_t gi = 0; gi < r.taken; ++gi) FreeGroup(r, gi);
  }

  void FreeGroup(const Request& r, size_t gi) {
    const Group& g = r.groups[gi];
    std::vector<std::string> args = {r.lease_id, std::to_string(options.lease_ttl_ms), "0"};
    for (size_t j = 0; j < g.claims.size(); ++j) {
      args.emplace_back();
      args.emplace_back();
    }
    FinishUntilAnswered(GroupKeys(r.claims, g.claims), std::move(args), nullptr);
  }

  Clock::time_point LeaseExpiry() const {
    return Clock::now() + std::chrono::milliseconds(options.lease_ttl_ms);
  }

  // The finish script touches only leases still ours and only raises
  // counters, so it is retried through a restart of Redis
  // (EvalUntilAnswered): a lease left behind holds its conversations' sends
  // for lease_ttl_ms.
  void FinishUntilAnswered(std::vector<std::string> script_keys, std::vector<std::string> args,
                           Callback<StatusOr<redis::Reply>> done) {
    redis_internal::EvalUntilAnswered(client, ex, finish_script, std::move(script_keys),
                                      std::move(args), LeaseExpiry(), std::move(done));
  }

  // --- seeding ---

  void Seed(const std::string& conv, Callback<StatusOr<uint64_t>> done) {
    store.GetMessages(conv, 0, false, 0, 1,
                      [self = shared_from_this(), conv,
                       done = std::move(done)](StatusOr<store::MessagePage> page) mutable {
                        if (!page.ok()) return done(page.status());
                        uint64_t high = page->messages.empty() ? 0 : page->messages.back().seq();
                        self->SeedFrom(conv, high, true, std::move(done));
                      });
  }

  void SeedFrom(const std::string& conv, uint64_t high, bool may_initialize,
                Callback<StatusOr<uint64_t>> done) {
    client->Eval(
        seed_script, {keys.Seq(conv), keys.Initialized()},
        {std::to_string(high), std::to_string(high + options.seq_gap_after_loss)},
        [self = shared_from_this(), conv, high, may_initialize,
         done = std::move(done)](StatusOr<redis::Reply> reply) mutable {
          if (!reply.ok()) return done(reply.status());
          if (reply->is_error() && reply->str.find("UNINITIALIZED") != std::string::npos &&
              may_initialize) {
            return self->Initialize([self, conv, high, done = std::move(done)](Status s) mutable {
              if (!s.ok()) return done(s);
              self->SeedFrom(conv, high, false, std::move(done));
            });
          }
          if (Status s = ErrorOf(*reply); !s.ok()) return done(s);
          auto v = U64Of(*reply);
          if (!v) return done(Status::Internal("redis: malformed seq counter"));
          done(*v);
        });
  }

  // Sets the marker when absent: "gap" when the Store holds messages (this
  // Redis lost its data), else "clean".
  void Initialize(Callback<Status> done) {
    store.LoadLastSeqs([self = shared_from_this(), done = std::move(done)](
                           StatusOr<std::vector<std::pair<std::string, uint64_t>>> last) {
      if (!last.ok()) return done(last.status());
      bool held_messages = false;
      for (const auto& [conv, seq] : *last) held_messages |= seq > 0;
      self->client->Command(
          {"SET", self->keys.Initialized(), held_messages ? "gap" : "clean", "NX"},
          [done](StatusOr<redis::Reply> reply) {
            if (!reply.ok()) return done(reply.status());
            done(ErrorOf(*reply));
          });
    });
  }

  // --- commit and abort ---

  void Finish(uint64_t id, bool commit, Callback<Status> done) {
    Open o;
    std::vector<RequestPtr> admitted;
    std::unordered_map<std::string, std::string> next_holder;  // conv -> lease id
    {
      std::lock_guard lock(mu);
      auto it = open.find(id);
      if (it == open.end()) {
        return done(Status::NotFound("no open seq lease " + std::to_string(id)));
      }
      o = std::move(it->second);
      open.erase(it);
      for (const SeqClaim& c : o.claims) held.erase(c.conv);
      admitted = AdmitWaiting();
      // Only leases of a request's first partition are handed over: one of
      // a later partition, held before the earlier ones, could close a cycle
      // with a process that holds those and waits for it.
      for (const RequestPtr& r : admitted) {
        for (size_t i : r->groups.front().claims) next_holder[r->claims[i].conv] = r->lease_id;
      }
    }
    std::map<uint32_t, std::vector<size_t>> by_partition;
    for (size_t i = 0; i < o.claims.size(); ++i) {
      by_partition[keys.PartitionOf(o.claims[i].conv)].push_back(i);
    }
    auto gather = Gather<StatusOr<redis::Reply>>::Create(
        by_partition.size(),
        [self = shared_from_this(), admitted = std::move(admitted),
         done = std::move(done)](std::vector<StatusOr<redis::Reply>> replies) mutable {
          Status status;
          for (auto& r : replies) {
            Status s = r.ok() ? ErrorOf(*r) : r.status();
            if (!s.ok() && status.ok()) status = s;
          }
          self->StartAll(std::move(admitted));
          done(std::move(status));
        });
    size_t slot = 0;
    for (const auto& [p, idx] : by_partition) {
      std::vector<std::string> args = {o.lease_id, std::to_string(options.lease_ttl_ms),
                                       std::to_string(options.lease_handovers_while_wanted)};
      for (size_t i : idx) {
        args.push_back(commit ? std::to_string(o.first[i] + o.claims[i].count - 1) : "");
        auto nh = next_holder.find(o.claims[i].conv);
        args.push_back(nh == next_holder.end() ? "" : nh->second);
      }
      FinishUntilAnswered(GroupKeys(o.claims, idx), std::move(args), gather->Slot(slot++));
    }
  }

  std::shared_ptr<redis::RedisClient> client;
  boost::asio::any_io_executor ex;
  store::Store& store;
  const RedisStateOptions options;
  const RedisStateKeys keys;
  const redis::Script lease_script, finish_script, seed_script;
  std::string lease_prefix;

  std::mutex mu;
  // State below is guarded by mu.
  std::mt19937_64 rng;
  std::unordered_set<std::string> held;  // conversations of admitted requests and open leases
  std::deque<RequestPtr> waiting;
  std::unordered_map<uint64_t, Open> open;
  uint64_t next_id = 1;
};

RedisSequenceAllocator::RedisSequenceAllocator(std::shared_ptr<redis::RedisClient> client,
                                               boost::asio::any_io_executor ex, store::Store& store,
                                               RedisStateOptions options)
    : impl_(std::make_shared<Impl>(std::move(client), std::move(ex), store, std::move(options))) {}

RedisSequenceAllocator::~RedisSequenceAllocator() = default;

void RedisSequenceAllocator::Acquire(std::vector<SeqClaim> claims,
                                     Callback<StatusOr<SeqLease>> done) {
  if (claims.empty() || claims.size() > impl_->options.max_claims) {
    return done(Status::InvalidArgument("a lease claims 1 to max_claims conversations"));
  }
  std::unordered_set<std::string> seen;
  for (const SeqClaim& c : claims) {
    if (c.conv.empty() || c.count == 0 || !seen.insert(c.conv).second) {
      return done(Status::InvalidArgument("claims need distinct conversations and counts > 0"));
    }
  }
  auto r = std::make_shared<Impl::Request>();
  r->claims = std::move(claims);
  r->done = std::move(done);
  r->counters.resize(r->claims.size());
  std::map<uint32_t, std::vector<size_t>> by_partition;
  for (size_t i = 0; i < r->claims.size(); ++i) {
    by_partition[impl_->keys.PartitionOf(r->claims[i].conv)].push_back(i);
  }
  for (auto& [p, idx] : by_partition) r->groups.push_back({p, std::move(idx)});
  std::vector<Impl::RequestPtr> admitted;
  {
    std::lock_guard lock(impl_->mu);
    r->id = impl_->next_id++;
    r->lease_id = impl_->lease_prefix + std::to_string(r->id);
    impl_->waiting.push_back(std::move(r));
    admitted = impl_->AdmitWaiting();
  }
  impl_->StartAll(std::move(admitted));
}

void RedisSequenceAllocator::Commit(uint64_t lease_id, Callback<Status> done) {
  impl_->Finish(lease_id, true, std::move(done));
}

void RedisSequenceAllocator::Abort(uint64_t lease_id, Callback<Status> done) {
  impl_->Finish(lease_id, false, std::move(done));
}

void RedisSequenceAllocator::Last(std::vector<std::string> convs,
                                  Callback<StatusOr<std::vector<uint64_t>>> done) {
  if (convs.size() > impl_->options.max_claims) {
    return done(Status::InvalidArgument("too many conversations"));
  }
  if (convs.empty()) return done(std::vector<uint64_t>{});
  auto impl = impl_;
  auto gather = Gather<StatusOr<uint64_t>>::Create(
      convs.size(), [done = std::move(done)](std::vector<StatusOr<uint64_t>> values) {
        std::vector<uint64_t> out;
        for (auto& v : values) {
          if (!v.ok()) return done(v.status());
          out.push_back(*v);
        }
        done(std::move(out));
      });
  for (size_t i = 0; i < convs.size(); ++i) {
    impl->client->Command(
        {"GET", impl->keys.Seq(convs[i])},
        [impl, conv = convs[i], slot = gather->Slot(i)](StatusOr<redis::Reply> reply) mutable {
          if (!reply.ok()) return slot(reply.status());
          if (Status s = ErrorOf(*reply); !s.ok()) return slot(s);
          if (reply->is_nil()) return impl->Seed(conv, std::move(slot));
          auto v = U64Of(*reply);
          if (!v) return slot(Status::Internal("redis: malformed seq counter"));
          slot(*v);
        });
  }
}

}  // namespace parley::state
