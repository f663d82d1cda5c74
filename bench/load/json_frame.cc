#include "load/json_frame.h"

namespace parley::bench {

namespace json = boost::json;

JsonFrame::JsonFrame()
    : resource_(arena_, sizeof arena_),
      parser_(json::storage_ptr(), json::parse_options(), parser_stack_, sizeof parser_stack_) {}

const json::object* JsonFrame::Parse(std::string_view text) {
  value_.reset();  // points into the arena: drop it before releasing
  resource_.release();
  parser_.reset(json::storage_ptr(&resource_));
  boost::system::error_code ec;
  parser_.write(text.data(), text.size(), ec);
  if (ec) return nullptr;
  value_.emplace(parser_.release());
  return value_->if_object();
}

std::string_view StringField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  const json::string& s = it->value().get_string();
  return {s.data(), s.size()};
}

int64_t IntField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return 0;
  if (it->value().is_int64()) return it->value().get_int64();
  if (it->value().is_uint64()) return static_cast<int64_t>(it->value().get_uint64());
  if (it->value().is_double()) return static_cast<int64_t>(it->value().get_double());
  return 0;
}

}  // namespace parley::bench
