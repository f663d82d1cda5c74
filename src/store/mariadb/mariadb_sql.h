// SqlBuilder: SQL text with every value either a number or a string quoted
// and escaped by the connection (mysql_real_escape_string), so that no value
// is ever spliced in raw:
//   SqlBuilder q(conn);
//   q.Raw("SELECT user_id FROM users WHERE username_lower = ").Str(name);
// Not thread-safe; used on the thread that owns `conn`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "store/mariadb/mariadb_connection.h"

namespace parley::store {

class SqlBuilder {
 public:
  explicit SqlBuilder(const MariaDbConnection& conn) : conn_(conn) {}

  // SQL text written by us, never a value.
  SqlBuilder& Raw(std::string_view sql) {
    sql_ += sql;
    return *this;
  }
  SqlBuilder& Str(std::string_view value) {
    conn_.AppendQuoted(sql_, value);
    return *this;
  }
  // NULL for an empty value.
  SqlBuilder& StrOrNull(std::string_view value) { return value.empty() ? Raw("NULL") : Str(value); }
  SqlBuilder& Num(uint64_t v) {
    fmt::format_to(std::back_inserter(sql_), "{}", v);
    return *this;
  }
  SqlBuilder& Num(int64_t v) {
    fmt::format_to(std::back_inserter(sql_), "{}", v);
    return *this;
  }
  SqlBuilder& Num(uint32_t v) { return Num(static_cast<uint64_t>(v)); }

  size_t size() const { return sql_.size(); }
  const std::string& str() const { return sql_; }

 private:
  const MariaDbConnection& conn_;
  std::string sql_;
};

}  // namespace parley::store
