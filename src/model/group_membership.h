// Who may join a group and how many: the rules every membership change obeys,
// whichever store or directory carries it out.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace parley::model {

// Who may add a user to a group (a user always joins the groups it creates).
enum class GroupAdds : uint8_t {
  kAnyone = 0,  // the default: any member of a group may add the user
  kNobody = 1,  // the user joins only groups it creates
};

// The wire names of GroupAdds: "anyone", "nobody".
inline std::string_view GroupAddsName(GroupAdds who) {
  return who == GroupAdds::kNobody ? "nobody" : "anyone";
}
inline std::optional<GroupAdds> ParseGroupAdds(std::string_view name) {
  if (name == "anyone") return GroupAdds::kAnyone;
  if (name == "nobody") return GroupAdds::kNobody;
  return std::nullopt;
}

// What a membership change must respect, checked in the same transaction as
// its insert, so that concurrent changes on any number of nodes cannot pass
// a bound together. A failed check changes nothing and answers:
//   INVALID_ARGUMENT   the group would have more than group_members_max
//                      members, or a joining user would be in more than
//                      groups_per_user_max groups;
//   PERMISSION_DENIED  a joining user other than the group's creator set
//                      GroupAdds::kNobody.
// A user the store does not know (no users row: tests of other tiers) counts
// as GroupAdds::kAnyone, and its groups_per_user_max may be passed by
// concurrent joins (a store serializes a user's joins on its users row).
struct MembershipRules {
  uint32_t group_members_max = UINT32_MAX;
  uint32_t groups_per_user_max = UINT32_MAX;
};

}  // namespace parley::model
