// Status and StatusOr: the outcome of an operation that can fail in an
// expected way. No exceptions cross an interface on the message path; the
// error policy is written down in docs/errors.md.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace parley {

namespace rpc {
class Error;
}

// The outcome codes of PROTOCOL.md. Parley's own enum, so that code outside
// the RPC edges does not depend on the generated protos; ToProto/FromProto
// map it to rpc::Code at the edges. Values are dense from 0 (metrics index
// counters by them).
enum class Code {
  kOk = 0,
  kInvalidArgument,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kAlreadyExists,
  kPayloadTooLarge,
  kRateLimited,
  kUnsupportedMediaType,
  kUnavailable,
  kInternal,
};
inline constexpr int kCodeCount = static_cast<int>(Code::kInternal) + 1;

// A cheap value: OK carries no allocation.
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status RateLimited(std::string m) { return {Code::kRateLimited, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsAlreadyExists() const { return code_ == Code::kAlreadyExists; }

  // Copies this status into a reply's error field.
  // Copies this status into a reply's error field (status_proto.cc).
  void ToProto(rpc::Error* e) const;
  static Status FromProto(const rpc::Error& e);

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Snake-case wire name of a code ("invalid_argument"), as in PROTOCOL.md.
const char* CodeName(Code code);
// HTTP status for a code (400, 401, ...).
int HttpStatus(Code code);

// Either a value or a non-OK Status.
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace parley
