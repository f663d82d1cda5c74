#include "store/mariadb/mariadb_dsn.h"

#include <charconv>

#include <fmt/format.h>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace parley::store {

namespace {

Status Bad(std::string_view what) {
  return Status::InvalidArgument(
      fmt::format("bad MariaDB DSN ({}); expected "
                  "mysql://user:password@host:port/database[?socket=/path]",
                  what));
}

bool IsDatabaseName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

StatusOr<MariaDbDsn> MariaDbDsn::Parse(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return Bad("not a URI");
  const boost::urls::url_view& u = *parsed;
  if (u.scheme() != "mysql" && u.scheme() != "mariadb") return Bad("scheme must be mysql://");
  if (!u.has_authority()) return Bad("no host");
  if (u.has_fragment()) return Bad("a fragment is not allowed");

  MariaDbDsn dsn;
  if (!u.has_userinfo() || u.user().empty()) return Bad("no user");
  dsn.user = u.user();
  dsn.password = u.password();
  dsn.host = u.host_address();
  if (u.has_port()) {
    // port_number() wraps values over 65535; parse the digits ourselves.
    const std::string_view digits = u.port();
    uint32_t port = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || port == 0 ||
        port > 65535) {
      return Bad("port must be 1 to 65535");
    }
    dsn.port = static_cast<uint16_t>(port);
  }

  std::string path = u.path();
  if (path.empty() || path[0] != '/') return Bad("no database");
  path.erase(0, 1);
  if (!IsDatabaseName(path)) return Bad("database name must be 1 to 64 of [A-Za-z0-9_]");
  dsn.database = std::move(path);

  for (auto param : u.params()) {
    if (param.key != "socket") return Bad(fmt::format("unknown parameter '{}'", param.key));
    if (!param.has_value || param.value.empty() || param.value[0] != '/') {
      return Bad("socket must be an absolute path");
    }
    dsn.socket = param.value;
  }
  if (dsn.host.empty() && dsn.socket.empty()) return Bad("no host");
  if (!dsn.socket.empty()) dsn.host.clear();
  return dsn;
}

std::string MariaDbDsn::Redacted() const {
  std::string where = socket.empty() ? fmt::format("{}:{}", host, port)
                                     : fmt::format("localhost/{}?socket={}", database, socket);
  if (!socket.empty()) return fmt::format("mysql://{}:***@{}", user, where);
  return fmt::format("mysql://{}:***@{}/{}", user, where, database);
}

}  // namespace parley::store
