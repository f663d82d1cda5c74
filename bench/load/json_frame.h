// Parses one JSON frame at a time into memory reused from frame to frame, so
// that reading a frame allocates nothing once the buffers have grown.
// Not thread-safe: one per event loop.
#pragma once

#include <optional>
#include <string_view>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>

namespace parley::bench {

class JsonFrame {
 public:
  JsonFrame();
  JsonFrame(const JsonFrame&) = delete;
  JsonFrame& operator=(const JsonFrame&) = delete;

  // The frame as an object, or nullptr when it is not a JSON object. Valid
  // until the next Parse().
  const boost::json::object* Parse(std::string_view text);

 private:
  alignas(16) unsigned char arena_[32 * 1024];
  unsigned char parser_stack_[4096];
  boost::json::monotonic_resource resource_;
  boost::json::parser parser_;
  // Move-constructed from the parser's result so that it keeps the arena as
  // its storage (assignment would copy into the heap).
  std::optional<boost::json::value> value_;
};

// Field accessors that tolerate absence and wrong types: 0 / empty.
std::string_view StringField(const boost::json::object& o, std::string_view key);
int64_t IntField(const boost::json::object& o, std::string_view key);

}  // namespace parley::bench
