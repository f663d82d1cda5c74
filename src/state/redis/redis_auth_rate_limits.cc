#include "state/redis/redis_auth_rate_limits.h"

#include <spdlog/spdlog.h>
#include <charconv>

namespace parley::state {

namespace {

// A bucket that never refills (per_sec 0) is forgotten after this long.
constexpr int64_t kMaxBucketTtlMs = 24LL * 3600 * 1000;

// KEYS: the bucket. ARGV: tokens per second, burst, "1" to take (else only
// look), longest expiry ms. Returns {1, 0} when a token is (was) there,
// else {0, ms until one is}. Time is the server's, in µs: exact in a double
// (below 2^53) for centuries to come.
const char kBucketLua[] = R"(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_ttl = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1])
local last = tonumber(b[2])
if tokens == nil or last == nil then
  tokens = burst
  last = now
end
if now > last then
  tokens = math.min(burst, tokens + rate * (now - last) / 1000000)
  last = now
end
if tokens >= 1 then
  if ARGV[3] == '1' then
    tokens = tokens - 1
    local ttl = max_ttl
    if rate > 0 then ttl = math.min(max_ttl, math.ceil((burst - tokens) / rate * 1000)) end
    if ttl < 1 then ttl = 1 end
    redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'ts', string.format('%.0f', last))
    redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))
  end
  return {1, 0}
end
local wait = 3600000
if rate > 0 then wait = math.ceil((1 - tokens) / rate * 1000) end
if wait < 1 then wait = 1 end
return {0, wait}
)";

std::string Decimal(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("0");
}

}  // namespace

RedisAuthRateLimits::RedisAuthRateLimits(std::shared_ptr<redis::RedisClient> client,
                                         RedisStateOptions options, const RateLimits& rates)
    : client_(std::move(client)),
      keys_(options.key_prefix, options.partitions),
      network_{rates.auth_per_sec, rates.auth_burst},
      login_failures_{rates.login_failures_per_sec, rates.login_failures_burst},
      script_(kBucketLua) {}

void RedisAuthRateLimits::TakeNetwork(std::string network, Callback<StatusOr<RateDecision>> done) {
  Run(keys_.AuthNetwork(network), network_, /*take=*/true, std::move(done));
}

void RedisAuthRateLimits::CheckLoginFailures(std::string account,
                                             Callback<StatusOr<RateDecision>> done) {
  Run(keys_.LoginFailures(account), login_failures_, /*take=*/false, std::move(done));
}

void RedisAuthRateLimits::TakeLoginFailure(std::string account,
                                           Callback<StatusOr<RateDecision>> done) {
  Run(keys_.LoginFailures(account), login_failures_, /*take=*/true, std::move(done));
}

void RedisAuthRateLimits::Run(std::string key, const Bucket& bucket, bool take,
                              Callback<StatusOr<RateDecision>> done) {
  client_->Eval(script_, {std::move(key)},
                {Decimal(bucket.per_sec), Decimal(bucket.burst), take ? "1" : "0",
                 std::to_string(kMaxBucketTtlMs)},
                [done = std::move(done)](StatusOr<redis::Reply> r) {
                  if (!r.ok()) return done(Status::Unavailable("rate limits unavailable"));
                  const redis::Reply& reply = *r;
                  if (reply.is_error() || reply.elements.size() != 2 ||
                      reply.elements[0].type != redis::Reply::Type::kInteger ||
                      reply.elements[1].type != redis::Reply::Type::kInteger) {
                    spdlog::error("event=auth_rate_limit_bad_reply type={} text={}",
                                  static_cast<int>(reply.type), reply.str);
                    return done(Status::Internal("rate limits: unexpected reply"));
                  }
                  RateDecision d;
                  d.allowed = reply.elements[0].integer == 1;
                  d.retry_after_ms = d.allowed ? 0 : reply.elements[1].integer;
                  done(d);
                });
}

}  // namespace parley::state
