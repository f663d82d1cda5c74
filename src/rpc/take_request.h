// TakeRequest: moves a request out of a gRPC callback handler's argument.
#pragma once

#include <utility>

namespace parley::rpc {

// gRPC hands a callback handler its request as const, but the object is the
// call's own (allocated per call, not const) and gRPC does not read it again
// once the handler has it: only frees it when the call is done. Moving it into
// the service, instead of copying, spares a copy of every send batch and push.
template <typename Req>
Req TakeRequest(const Req* req) {
  return std::move(*const_cast<Req*>(req));
}

}  // namespace parley::rpc
