// How a gRPC transport outcome reads in Parley's terms. Application outcomes
// travel in the replies' `error` fields; a non-OK grpc::Status means the call
// itself failed (peer unreachable, deadline, overload, a bug).
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace parley::rpc {

// The Parley status a caller sees for a failed call: UNAVAILABLE for what a
// retry later may cure (unreachable, deadline exceeded, cancelled, overload),
// PAYLOAD_TOO_LARGE for a message over the size limit, INTERNAL otherwise.
Status FromGrpcStatus(const grpc::Status& status);

// True for outcomes that say the peer is unhealthy (UNAVAILABLE,
// DEADLINE_EXCEEDED): these count toward its circuit breaker. Any other
// outcome proves the peer answered.
bool IsPeerFailure(grpc::StatusCode code);

}  // namespace parley::rpc
