// Snowflake message ids: 41 bits of milliseconds since 2020-01-01T00:00:00Z,
// 10 bits of node id, 12 bits of sequence within the millisecond.
#pragma once

#include <cstdint>

#include "common/clock.h"

namespace parley {

inline constexpr int64_t kSnowflakeEpochMs = 1'577'836'800'000;  // 2020-01-01Z

// Not thread-safe: one generator per owner (the logic strand).
class SnowflakeGenerator {
 public:
  SnowflakeGenerator(const Clock& clock, uint32_t node_id);
  // Strictly increasing ids. When 4096 ids are used up within a millisecond,
  // or the wall clock steps back, it borrows from the next milliseconds
  // rather than waiting or repeating.
  uint64_t Next();

  static int64_t TimestampMs(uint64_t id) {
    return static_cast<int64_t>(id >> 22) + kSnowflakeEpochMs;
  }
  static uint32_t NodeId(uint64_t id) { return static_cast<uint32_t>((id >> 12) & 0x3ff); }

 private:
  const Clock& clock_;
  uint64_t node_bits_;
  int64_t last_ms_ = 0;  // ms since the snowflake epoch of the last id
  uint32_t sequence_ = 0;
};

}  // namespace parley
