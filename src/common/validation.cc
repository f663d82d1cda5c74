#include "common/validation.h"

#include <string>

namespace parley {

namespace {
bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
std::string Range(uint32_t lo, uint32_t hi) {
  return std::to_string(lo) + " to " + std::to_string(hi);
}
}  // namespace

Status ValidateUsername(std::string_view u, const Limits& limits) {
  if (u.size() < limits.username_min || u.size() > limits.username_max) {
    return Status::InvalidArgument("username must be " +
                                   Range(limits.username_min, limits.username_max) + " characters");
  }
  for (char c : u) {
    if (!IsAsciiAlnum(c) && c != '_' && c != '.' && c != '-') {
      return Status::InvalidArgument("username may contain only letters, digits, '_', '.' and '-'");
    }
  }
  return Status::Ok();
}

Status ValidatePassword(std::string_view p, const Limits& limits) {
  if (p.size() < limits.password_min || p.size() > limits.password_max) {
    return Status::InvalidArgument("password must be " +
                                   Range(limits.password_min, limits.password_max) + " bytes");
  }
  return Status::Ok();
}

Status ValidateGroupName(std::string_view name, const Limits& limits) {
  if (name.empty() || name.size() > limits.group_name_max) {
    return Status::InvalidArgument("name must be 1 to " + std::to_string(limits.group_name_max) +
                                   " bytes");
  }
  if (!IsValidUtf8(name)) return Status::InvalidArgument("name must be valid UTF-8");
  return Status::Ok();
}

Status ValidateBody(std::string_view body, const Limits& limits) {
  if (body.empty() || body.size() > limits.body_max) {
    return Status::InvalidArgument("body must be 1 to " + std::to_string(limits.body_max) +
                                   " bytes");
  }
  if (!IsValidUtf8(body)) return Status::InvalidArgument("body must be valid UTF-8");
  return Status::Ok();
}

Status ValidateClientId(std::string_view id) {
  if (id.empty() || id.size() > 64) return Status::InvalidArgument("id must be 1 to 64 characters");
  for (char c : id) {
    if (!IsAsciiAlnum(c) && c != '_' && c != '-') {
      return Status::InvalidArgument("id may contain only letters, digits, '_' and '-'");
    }
  }
  return Status::Ok();
}

Status ValidateId(uint64_t id, std::string_view field) {
  if (id == 0 || id > kMaxSafeId) {
    return Status::InvalidArgument(std::string(field) + " must be a positive integer below 2^53");
  }
  return Status::Ok();
}

Status ValidateLimit(int64_t limit, const Limits& limits) {
  if (limit < 1 || limit > static_cast<int64_t>(limits.page_limit_max)) {
    return Status::InvalidArgument("limit must be 1 to " + std::to_string(limits.page_limit_max));
  }
  return Status::Ok();
}

// Hand-written because no packaged library exposes a plain validator (Beast's
// is in a detail namespace); rejects overlongs, surrogates and > U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += n + 1;
  }
  return true;
}

}  // namespace parley
