#include "rpc/call_metadata.h"

#include <charconv>
#include <chrono>

#include "common/logging.h"

namespace parley::rpc {
namespace {

constexpr std::string_view kRequestId = "x-request-id";
constexpr std::string_view kAuthorization = "authorization";
constexpr std::string_view kBearer = "Bearer ";
constexpr std::string_view kUser = "x-parley-user";
constexpr std::string_view kSession = "x-parley-session";
constexpr std::string_view kClientIp = "x-client-ip";
constexpr std::string_view kOriginNode = "x-origin-node";
constexpr std::string_view kOriginConn = "x-origin-conn";
// Request ids are logged as they are: a conservative alphabet, as the api's.
constexpr size_t kMaxRequestIdBytes = 64;

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

void Add(grpc::ClientContext& cc, std::string_view key, std::string_view value) {
  if (value.empty() || !IsSendableMetadata(value)) return;
  cc.AddMetadata(std::string(key), std::string(value));
}

uint64_t ParseId(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() ? v : 0;
}

}  // namespace

bool IsSendableMetadata(std::string_view value) {
  if (value.size() > kMaxMetadataValueBytes) return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

void WriteCallContext(const logic::CallContext& ctx, int64_t default_deadline_ms,
                      grpc::ClientContext& cc) {
  if (IsSaneRequestId(ctx.request_id)) Add(cc, kRequestId, ctx.request_id);
  if (!ctx.token.empty() && IsSendableMetadata(ctx.token)) {
    Add(cc, kAuthorization, std::string(kBearer) + ctx.token);
  }
  if (ctx.user_id != 0) Add(cc, kUser, std::to_string(ctx.user_id));
  Add(cc, kSession, ctx.session_key);
  Add(cc, kClientIp, ctx.client_ip);
  Add(cc, kOriginNode, ctx.origin_node);
  if (ctx.origin_conn != 0) Add(cc, kOriginConn, std::to_string(ctx.origin_conn));
  int64_t deadline_ms = ctx.deadline_ms != 0 ? ctx.deadline_ms : default_deadline_ms;
  if (deadline_ms != 0) {
    cc.set_deadline(std::chrono::system_clock::time_point(std::chrono::milliseconds(deadline_ms)));
  }
}

logic::CallContext ReadCallContext(const grpc::CallbackServerContext& sc) {
  logic::CallContext ctx;
  for (const auto& [k, v] : sc.client_metadata()) {
    std::string_view key(k.data(), k.size());
    std::string_view value(v.data(), v.size());
    if (!IsSendableMetadata(value)) continue;
    if (key == kRequestId) {
      if (IsSaneRequestId(value)) ctx.request_id = value;
    } else if (key == kAuthorization) {
      if (value.starts_with(kBearer)) ctx.token = value.substr(kBearer.size());
    } else if (key == kUser) {
      ctx.user_id = ParseId(value);
    } else if (key == kSession) {
      ctx.session_key = value;
    } else if (key == kClientIp) {
      ctx.client_ip = value;
    } else if (key == kOriginNode) {
      ctx.origin_node = value;
    } else if (key == kOriginConn) {
      ctx.origin_conn = ParseId(value);
    }
  }
  if (ctx.request_id.empty()) ctx.request_id = NewRequestId();
  // No deadline reads as the far future.
  const auto deadline = sc.deadline();
  if (deadline < std::chrono::system_clock::now() + std::chrono::hours(24 * 365 * 100)) {
    ctx.deadline_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count();
  }
  return ctx;
}

}  // namespace parley::rpc
