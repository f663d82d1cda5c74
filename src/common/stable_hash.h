// Hashes that are the same in every process, build and run: for choices
// several processes must agree on (a conversation's partition, the partition
// ring, which logic node serves a user). std::hash promises none of that.
// Not for security: anyone can find collisions.
#pragma once

#include <cstdint>
#include <string_view>

namespace parley {

// FNV-1a, 64 bits. Stable forever: data on disk is placed by it.
constexpr uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// The splitmix64 finalizer: every input bit moves every output bit, which
// FNV-1a alone does poorly for similar strings ("node-1#7", "node-1#8") and
// for small integers.
constexpr uint64_t Mix64(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

constexpr uint64_t StableHash64(std::string_view bytes) { return Mix64(Fnv1a64(bytes)); }

}  // namespace parley
