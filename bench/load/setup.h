// The set-up phase shared by the scenarios: users registered and logged in
// over HTTP (concurrent, bounded, kept-alive) and groups created. Coroutines
// for one executor; the references passed must outlive them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/status.h"
#include "load/config.h"
#include "load/server_target.h"

namespace parley::bench {

struct BenchUser {
  uint64_t user_id = 0;
  std::string username;
  std::string token;
};

struct BenchGroup {
  uint64_t group_id = 0;
  std::vector<uint32_t> members;  // indexes into the user list
};

// A username prefix unique to this run (random), so that every run starts
// with fresh users and empty conversations.
std::string RandomUserPrefix();

// Registers users <prefix>0 .. <prefix>(count-1) and logs each in. A name
// already taken (a rerun with a fixed --user-prefix) is logged in anyway.
boost::asio::awaitable<StatusOr<std::vector<BenchUser>>> CreateUsers(const BenchConfig& cfg,
                                                                     const ServerTarget& target,
                                                                     uint32_t count);

// Logs every user in again (fresh tokens).
boost::asio::awaitable<Status> LoginUsers(const BenchConfig& cfg, const ServerTarget& target,
                                          std::vector<BenchUser>& users);

// Creates `groups` groups of `size` consecutive users each (group g holds
// users g*size .. g*size+size-1), each created by its first member.
boost::asio::awaitable<StatusOr<std::vector<BenchGroup>>> CreateGroups(
    const BenchConfig& cfg, const ServerTarget& target, const std::vector<BenchUser>& users,
    uint32_t groups, uint32_t size);

}  // namespace parley::bench
