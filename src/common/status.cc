#include "common/status.h"

#include "parley/message.pb.h"

namespace parley {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kUnauthenticated:
      return "unauthenticated";
    case Code::kPermissionDenied:
      return "permission_denied";
    case Code::kNotFound:
      return "not_found";
    case Code::kAlreadyExists:
      return "already_exists";
    case Code::kPayloadTooLarge:
      return "payload_too_large";
    case Code::kRateLimited:
      return "rate_limited";
    case Code::kUnsupportedMediaType:
      return "unsupported_media_type";
    case Code::kUnavailable:
      return "unavailable";
    default:
      return "internal";
  }
}

int HttpStatus(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kPayloadTooLarge:
      return 413;
    case Code::kUnsupportedMediaType:
      return 415;
    case Code::kRateLimited:
      return 429;
    case Code::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

namespace {
rpc::Code ToProtoCode(Code code) {
  switch (code) {
    case Code::kOk:
      return rpc::OK;
    case Code::kInvalidArgument:
      return rpc::INVALID_ARGUMENT;
    case Code::kUnauthenticated:
      return rpc::UNAUTHENTICATED;
    case Code::kPermissionDenied:
      return rpc::PERMISSION_DENIED;
    case Code::kNotFound:
      return rpc::NOT_FOUND;
    case Code::kAlreadyExists:
      return rpc::ALREADY_EXISTS;
    case Code::kPayloadTooLarge:
      return rpc::PAYLOAD_TOO_LARGE;
    case Code::kRateLimited:
      return rpc::RATE_LIMITED;
    case Code::kUnsupportedMediaType:
      return rpc::UNSUPPORTED_MEDIA_TYPE;
    case Code::kUnavailable:
      return rpc::UNAVAILABLE;
    case Code::kInternal:
      break;
  }
  return rpc::INTERNAL;
}

Code FromProtoCode(rpc::Code code) {
  switch (code) {
    case rpc::OK:
      return Code::kOk;
    case rpc::INVALID_ARGUMENT:
      return Code::kInvalidArgument;
    case rpc::UNAUTHENTICATED:
      return Code::kUnauthenticated;
    case rpc::PERMISSION_DENIED:
      return Code::kPermissionDenied;
    case rpc::NOT_FOUND:
      return Code::kNotFound;
    case rpc::ALREADY_EXISTS:
      return Code::kAlreadyExists;
    case rpc::PAYLOAD_TOO_LARGE:
      return Code::kPayloadTooLarge;
    case rpc::RATE_LIMITED:
      return Code::kRateLimited;
    case rpc::UNSUPPORTED_MEDIA_TYPE:
      return Code::kUnsupportedMediaType;
    case rpc::UNAVAILABLE:
      return Code::kUnavailable;
    default:
      // INTERNAL, and codes from a newer peer that this build does not know.
      return Code::kInternal;
  }
}
}  // namespace

void Status::ToProto(rpc::Error* e) const {
  e->set_code(ToProtoCode(code_));
  e->set_message(message_);
}

Status Status::FromProto(const rpc::Error& e) { return {FromProtoCode(e.code()), e.message()}; }

}  // namespace parley
