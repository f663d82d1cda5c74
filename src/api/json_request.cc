#include "api/json_request.h"

#include <optional>

#include <boost/json/parse.hpp>

#include "common/validation.h"

namespace parley::api {

namespace {

std::string Named(std::string_view field, const char* rule) {
  std::string m(field);
  m += ' ';
  m += rule;
  return m;
}

// An id from a JSON value, or nullopt when it is not an integer in range.
std::optional<uint64_t> IdFromValue(const boost::json::value& v) {
  if (v.is_int64()) {
    int64_t i = v.get_int64();
    if (i < 1 || static_cast<uint64_t>(i) > kMaxSafeId) return std::nullopt;
    return static_cast<uint64_t>(i);
  }
  if (v.is_uint64()) {
    uint64_t u = v.get_uint64();
    if (u < 1 || u > kMaxSafeId) return std::nullopt;
    return u;
  }
  return std::nullopt;
}

constexpr const char* kIdRule = "must be a positive integer below 2^53";

}  // namespace

StatusOr<JsonRequest> JsonRequest::Parse(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) return Status::InvalidArgument("malformed JSON: " + ec.message());
  if (!v.is_object()) return Status::InvalidArgument("request body must be a JSON object");
  return JsonRequest(std::move(v.get_object()));
}

bool JsonRequest::Has(std::string_view field) const { return object_.contains(field); }

StatusOr<std::string> JsonRequest::String(std::string_view field) const {
  const boost::json::value* v = object_.if_contains(field);
  if (v == nullptr) return Status::InvalidArgument(Named(field, "is required"));
  if (!v->is_string()) return Status::InvalidArgument(Named(field, "must be a string"));
  const boost::json::string& s = v->get_string();
  return std::string(s.data(), s.size());
}

StatusOr<uint64_t> JsonRequest::Id(std::string_view field) const {
  const boost::json::value* v = object_.if_contains(field);
  if (v == nullptr) return Status::InvalidArgument(Named(field, "is required"));
  std::optional<uint64_t> id = IdFromValue(*v);
  if (!id) return Status::InvalidArgument(Named(field, kIdRule));
  return *id;
}

StatusOr<std::vector<uint64_t>> JsonRequest::IdArray(std::string_view field,
                                                     bool missing_ok) const {
  const boost::json::value* v = object_.if_contains(field);
  if (v == nullptr) {
    if (missing_ok) return std::vector<uint64_t>{};
    return Status::InvalidArgument(Named(field, "is required"));
  }
  if (!v->is_array()) return Status::InvalidArgument(Named(field, "must be an array of ids"));
  std::vector<uint64_t> ids;
  ids.reserve(v->get_array().size());
  for (const boost::json::value& e : v->get_array()) {
    std::optional<uint64_t> id = IdFromValue(e);
    if (!id)
      return Status::InvalidArgument(Named(field, "elements must be positive integers below 2^53"));
    ids.push_back(*id);
  }
  return ids;
}

std::optional<uint64_t> ParseDecimal(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (d > max || v > (max - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

StatusOr<uint64_t> ParseIdText(std::string_view text, std::string_view field) {
  std::optional<uint64_t> v = ParseDecimal(text, kMaxSafeId);
  if (!v || *v == 0) return Status::InvalidArgument(Named(field, kIdRule));
  return *v;
}

}  // namespace parley::api
