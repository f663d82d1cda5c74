// MariaDbDsn: where a MariaDbStore connects, parsed from a DSN of the form
//   mysql://user:password@host:port/database
//   mysql://user:password@localhost/database?socket=/run/mysqld/mysqld.sock
// ("mariadb://" is accepted too). User, password and socket are
// percent-decoded; the port defaults to 3306; the database name is limited to
// [A-Za-z0-9_] (1 to 64 characters) so that it never needs quoting. A plain
// value: copy it freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace parley::store {

struct MariaDbDsn {
  std::string user;
  std::string password;
  std::string host;  // empty with a socket
  uint16_t port = 3306;
  std::string database;
  std::string socket;  // a Unix socket path; when set, host and port are ignored

  // INVALID_ARGUMENT, naming the part at fault, for anything else.
  static StatusOr<MariaDbDsn> Parse(std::string_view dsn);

  // The DSN with the password masked, for logs and error messages.
  std::string Redacted() const;
};

}  // namespace parley::store
