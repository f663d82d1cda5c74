// Pages of a user's conversation list, for `hello` and
// GET /api/v1/conversations: newest activity first (last_ts descending, ties
// by conv id, larger first), at most `limit` at a time, each page continuing after the
// last one handed out. The cursor (`next`) is the last entry's position in
// that order, not an index, so conversations added or removed meanwhile
// neither repeat nor shift the rest; one that becomes active meanwhile moves
// to the front, where the next hello or first page lists it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "parley/message.pb.h"

namespace parley::logic {

struct ConversationPage {
  std::vector<rpc::ConvState> convs;
  bool has_more = false;
  std::string next;  // set when has_more: the `before` of the following page
};

// The page of `all` (in any order) that follows the cursor `before` (empty:
// the first page). INVALID_ARGUMENT for a cursor this function did not make.
// O(n log n) in the size of `all`.
StatusOr<ConversationPage> PageConversations(std::vector<rpc::ConvState> all,
                                             std::string_view before, size_t limit);

}  // namespace parley::logic
