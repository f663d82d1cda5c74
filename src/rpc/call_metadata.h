// CallContext over gRPC: as call metadata and the call's deadline, as
// proto/parley/logic.proto's header says:
//   x-request-id                   request_id
//   authorization: Bearer <token>  token
//   x-parley-user, x-parley-session  user_id (decimal), session_key
//   x-client-ip                    client_ip
//   x-origin-node, x-origin-conn   origin_node, origin_conn (decimal)
//   the gRPC deadline              deadline_ms
// Empty or zero fields are not sent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include "logic/logic_service.h"

namespace parley::rpc {

// Longest metadata value either side accepts, bytes. Values longer than it,
// or with bytes outside printable ASCII (which gRPC refuses), are not sent,
// and are ignored when received.
inline constexpr size_t kMaxMetadataValueBytes = 1024;

// True for a value that may travel as metadata.
bool IsSendableMetadata(std::string_view value);

// Puts `ctx` on `cc`: metadata, and the deadline (ctx.deadline_ms, or
// `default_deadline_ms` when that is 0; 0 too: none).
void WriteCallContext(const logic::CallContext& ctx, int64_t default_deadline_ms,
                      grpc::ClientContext& cc);

// The CallContext of a call received by a server. A missing or malformed
// request id is replaced by a new one, so that every call can be traced.
// Malformed credentials are dropped (logic then answers unauthenticated).
logic::CallContext ReadCallContext(const grpc::CallbackServerContext& sc);

}  // namespace parley::rpc
