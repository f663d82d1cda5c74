// Field validation with the limits of PROTOCOL.md (configurable through
// Limits). Each check returns OK or INVALID_ARGUMENT with a message that
// names the field and the rule.
#pragma once

#include <string_view>

#include "common/options.h"
#include "common/status.h"

namespace parley {

Status ValidateUsername(std::string_view username, const Limits& limits);
Status ValidatePassword(std::string_view password, const Limits& limits);
Status ValidateGroupName(std::string_view name, const Limits& limits);
// Message body: 1 to body_max bytes of valid UTF-8.
Status ValidateBody(std::string_view body, const Limits& limits);
// Client message id: 1 to 64 bytes of [A-Za-z0-9_-].
Status ValidateClientId(std::string_view id);
// user_id / group_id: positive and below 2^53.
Status ValidateId(uint64_t id, std::string_view field);
// Page size: 1 to page_limit_max.
Status ValidateLimit(int64_t limit, const Limits& limits);

bool IsValidUtf8(std::string_view s);

inline constexpr uint64_t kMaxSafeId = (1ULL << 53) - 1;

}  // namespace parley
