// Conversation ids: "p:a:b" (a <= b) for private chat, "g:N" for a group.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::model {

struct ConvId {
  enum class Kind { kPrivate, kGroup } kind = Kind::kPrivate;
  uint64_t a = 0;  // private: smaller user id; group: group id
  uint64_t b = 0;  // private: larger user id

  static ConvId Private(uint64_t x, uint64_t y) {
    return x <= y ? ConvId{Kind::kPrivate, x, y} : ConvId{Kind::kPrivate, y, x};
  }
  static ConvId Group(uint64_t group_id) { return ConvId{Kind::kGroup, group_id, 0}; }
  // nullopt unless `s` is a well-formed id (canonical order, ids in range).
  static std::optional<ConvId> Parse(std::string_view s);

  bool is_group() const { return kind == Kind::kGroup; }
  uint64_t group_id() const { return a; }
  bool HasParticipant(uint64_t user) const { return !is_group() && (a == user || b == user); }
  // The other participant of a private conversation (self for "p:a:a").
  uint64_t PeerOf(uint64_t user) const { return a == user ? b : a; }
  std::string ToString() const;
};

}  // namespace parley::model
