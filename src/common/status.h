// Status and StatusOr: the outcome of an operation that can fail in an
// expected way. No exceptions cross an interface on the message path; the
// error policy is written down in docs/errors.md.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "parley/message.pb.h"

namespace parley {

using Code = rpc::Code;

// A cheap value: OK carries no allocation.
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {rpc::INVALID_ARGUMENT, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {rpc::UNAUTHENTICATED, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {rpc::PERMISSION_DENIED, std::move(m)}; }
  static Status NotFound(std::string m) { return {rpc::NOT_FOUND, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {rpc::ALREADY_EXISTS, std::move(m)}; }
  static Status RateLimited(std::string m) { return {rpc::RATE_LIMITED, std::move(m)}; }
  static Status Unavailable(std::string m) { return {rpc::UNAVAILABLE, std::move(m)}; }
  static Status Internal(std::string m) { return {rpc::INTERNAL, std::move(m)}; }

  bool ok() const { return code_ == rpc::OK; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == rpc::NOT_FOUND; }
  bool IsAlreadyExists() const { return code_ == rpc::ALREADY_EXISTS; }

  // Copies this status into a reply's error field.
  void ToProto(rpc::Error* e) const {
    e->set_code(code_);
    e->set_message(message_);
  }
  static Status FromProto(const rpc::Error& e) { return {e.code(), e.message()}; }

 private:
  Code code_ = rpc::OK;
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
