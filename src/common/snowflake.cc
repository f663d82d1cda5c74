#include "common/snowflake.h"

#include <stdexcept>

namespace parley {

SnowflakeGenerator::SnowflakeGenerator(const Clock& clock, uint32_t node_id)
    : clock_(clock), node_bits_(static_cast<uint64_t>(node_id & 0x3ff) << 12) {
  if (node_id > 0x3ff) throw std::invalid_argument("snowflake node id must be 0-1023");
}

uint64_t SnowflakeGenerator::Next() {
  int64_t now = clock_.NowMs() - kSnowflakeEpochMs;
  if (now > last_ms_) {
    last_ms_ = now;
    sequence_ = 0;
  } else if (++sequence_ > 0xfff) {
    ++last_ms_;
    sequence_ = 0;
  }
  return (static_cast<uint64_t>(last_ms_) << 22) | node_bits_ | sequence_;
}

}  // namespace parley
