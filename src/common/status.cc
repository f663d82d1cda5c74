#include "common/status.h"

namespace parley {

const char* CodeName(Code code) {
  switch (code) {
    case rpc::OK:
      return "ok";
    case rpc::INVALID_ARGUMENT:
      return "invalid_argument";
    case rpc::UNAUTHENTICATED:
      return "unauthenticated";
    case rpc::PERMISSION_DENIED:
      return "permission_denied";
    case rpc::NOT_FOUND:
      return "not_found";
    case rpc::ALREADY_EXISTS:
      return "already_exists";
    case rpc::PAYLOAD_TOO_LARGE:
      return "payload_too_large";
    case rpc::RATE_LIMITED:
      return "rate_limited";
    case rpc::UNSUPPORTED_MEDIA_TYPE:
      return "unsupported_media_type";
    case rpc::UNAVAILABLE:
      return "unavailable";
    default:
      return "internal";
  }
}

int HttpStatus(Code code) {
  switch (code) {
    case rpc::OK:
      return 200;
    case rpc::INVALID_ARGUMENT:
      return 400;
    case rpc::UNAUTHENTICATED:
      return 401;
    case rpc::PERMISSION_DENIED:
      return 403;
    case rpc::NOT_FOUND:
      return 404;
    case rpc::ALREADY_EXISTS:
      return 409;
    case rpc::PAYLOAD_TOO_LARGE:
      return 413;
    case rpc::UNSUPPORTED_MEDIA_TYPE:
      return 415;
    case rpc::RATE_LIMITED:
      return 429;
    case rpc::UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

}  // namespace parley
