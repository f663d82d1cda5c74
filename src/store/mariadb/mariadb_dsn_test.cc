#include "store/mariadb/mariadb_dsn.h"

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace parley::store {
namespace {

// The status of a result, by value: ASSERT_OK(f().status()) would bind a
// reference into f()'s temporary result, gone by the time it is printed.
template <typename T>
Status StatusOf(const StatusOr<T>& r) {
  return r.status();
}

TEST(MariaDbDsnTest, ParsesEveryPart) {
  auto d = MariaDbDsn::Parse("mysql://ann:s3cret@db.example:3307/parley");
  ASSERT_OK(StatusOf(d));
  EXPECT_EQ(d->user, "ann");
  EXPECT_EQ(d->password, "s3cret");
  EXPECT_EQ(d->host, "db.example");
  EXPECT_EQ(d->port, 3307);
  EXPECT_EQ(d->database, "parley");
  EXPECT_EQ(d->socket, "");
  EXPECT_EQ(d->Redacted(), "mysql://ann:***@db.example:3307/parley");
}

TEST(MariaDbDsnTest, DefaultsThePortAndDecodesThePassword) {
  auto d = MariaDbDsn::Parse("mariadb://ann:p%40ss%3Aw%2Fd@127.0.0.1/p_1");
  ASSERT_OK(StatusOf(d));
  EXPECT_EQ(d->password, "p@ss:w/d");
  EXPECT_EQ(d->port, 3306);
  EXPECT_EQ(d->host, "127.0.0.1");
  // No password at all is allowed (the server decides).
  d = MariaDbDsn::Parse("mysql://ann@[::1]:3306/parley");
  ASSERT_OK(StatusOf(d));
  EXPECT_EQ(d->password, "");
  EXPECT_EQ(d->host, "::1");
}

TEST(MariaDbDsnTest, TakesASocketInsteadOfHostAndPort) {
  auto d = MariaDbDsn::Parse("mysql://ann:pw@localhost/parley?socket=/run/mysqld/mysqld.sock");
  ASSERT_OK(StatusOf(d));
  EXPECT_EQ(d->socket, "/run/mysqld/mysqld.sock");
  EXPECT_EQ(d->host, "");
  EXPECT_OK(StatusOf(MariaDbDsn::Parse("mysql://ann:pw@/parley?socket=/tmp/s")));
}

TEST(MariaDbDsnTest, RefusesMalformedDsnsNamingThePart) {
  struct Case {
    const char* dsn;
    const char* names;
  };
  for (const Case& c : {
           Case{"", "not a URI"},
           Case{"not a dsn", "not a URI"},
           Case{"postgres://a:b@h/db", "scheme"},
           Case{"mysql://h/db", "no user"},
           Case{"mysql://a:b@h", "no database"},
           Case{"mysql://a:b@h/", "database name"},
           Case{"mysql://a:b@h/db;drop", "database name"},
           Case{"mysql://a:b@h/db/x", "database name"},
           Case{"mysql://a:b@h:0/db", "port"},
           Case{"mysql://a:b@h:99999/db", "port"},
           Case{"mysql://a:b@/db", "no host"},
           Case{"mysql://a:b@h/db?sslmode=on", "unknown parameter"},
           Case{"mysql://a:b@h/db?socket=relative", "socket"},
           Case{"mysql://a:b@h/db#frag", "fragment"},
       }) {
    auto d = MariaDbDsn::Parse(c.dsn);
    ASSERT_FALSE(d.ok()) << c.dsn;
    EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << c.dsn;
    EXPECT_NE(d.status().message().find(c.names), std::string::npos)
        << c.dsn << ": " << d.status().message();
  }
}

}  // namespace
}  // namespace parley::store
