// AnchorGrpcCallbackQueue: keeps gRPC's shared callback completion queue
// alive for the rest of the process.
//
// gRPC 1.51 on Linux runs every callback-API completion on one shared queue
// and its threads, reference-counted by the channels and servers that use
// it. When the last reference goes on one of those threads (a callback, or
// the end of a call, dropping the last channel: a ClientContext holds its
// channel), the thread joins itself and the queue is freed twice
// (grpc/grpc, src/cpp/common/completion_queue_cc.cc,
// CallbackAlternativeCQ::Unref). An immortal, portless server holds one
// reference, so the count never reaches zero while the process runs; its
// threads end with the process.
//
// Every class of this room that makes a channel or a server calls it first.
// Thread-safe; the first call builds the anchor, later calls do nothing.
#pragma once

namespace parley::rpc {

void AnchorGrpcCallbackQueue();

}  // namespace parley::rpc
