#include "rpc/grpc_status.h"

#include <string>

namespace parley::rpc {

Status FromGrpcStatus(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return Status::Ok();
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status::Unavailable("deadline exceeded");
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
      return Status::Unavailable("peer unavailable: " + s.error_message());
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      // gRPC says RESOURCE_EXHAUSTED both for a message over the size limit
      // and for an overloaded server; only the first is the caller's fault.
      if (s.error_message().find("larger than max") != std::string::npos) {
        return {parley::Code::kPayloadTooLarge, s.error_message()};
      }
      return Status::Unavailable("peer overloaded: " + s.error_message());
    case grpc::StatusCode::UNAUTHENTICATED:
      return Status::Unauthenticated(s.error_message());
    default:
      return Status::Internal("rpc failed (" + std::to_string(static_cast<int>(s.error_code())) +
                              "): " + s.error_message());
  }
}

bool IsPeerFailure(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace parley::rpc
