// Typed access to the fields of a JSON request body, and strict decimal
// parsing of path and query values. Every failure is INVALID_ARGUMENT with a
// message that names the field and the rule ("user_id must be a positive
// integer below 2^53"), ready to send to the client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "common/status.h"

namespace parley::api {

// One parsed JSON object. Immutable after Parse; safe to read from any thread.
class JsonRequest {
 public:
  // INVALID_ARGUMENT unless `body` is exactly one JSON object of valid UTF-8.
  static StatusOr<JsonRequest> Parse(std::string_view body);

  // True when the field is present, whatever its value (null included).
  bool Has(std::string_view field) const;
  // A required string; may be empty (limits are the caller's business).
  StatusOr<std::string> String(std::string_view field) const;
  // A required id: a JSON integer in 1 .. 2^53-1. Floats (even 5.0),
  // negatives, strings, booleans and null are refused.
  StatusOr<uint64_t> Id(std::string_view field) const;
  // An array of ids; each element as in Id(). Missing -> `missing_ok` decides
  // between an empty vector and an error.
  StatusOr<std::vector<uint64_t>> IdArray(std::string_view field, bool missing_ok) const;

 private:
  explicit JsonRequest(boost::json::object object) : object_(std::move(object)) {}
  boost::json::object object_;
};

// Digits only, no sign, no leading '+' or spaces, at most `max`; nullopt
// otherwise (also on overflow). "007" is 7.
std::optional<uint64_t> ParseDecimal(std::string_view text, uint64_t max);
// A path or query id: as JsonRequest::Id, from its decimal text.
StatusOr<uint64_t> ParseIdText(std::string_view text, std::string_view field);

}  // namespace parley::api
