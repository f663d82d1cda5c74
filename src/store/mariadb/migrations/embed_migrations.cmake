# Writes OUT, a C++ source holding every migrations/NNN_name.sql of DIR as a
# raw string, ascending by version. Run at build time (cmake -P), so editing a
# migration rebuilds the store. Versions must run 1, 2, 3, ... without gaps.
file(GLOB files RELATIVE ${DIR} ${DIR}/*.sql)
list(SORT files)
set(body "")
set(expected 1)
foreach(f ${files})
  if(NOT f MATCHES "^([0-9][0-9][0-9])_([a-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "migration ${f}: name it NNN_lowercase_name.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1} + 0")
  set(name ${CMAKE_MATCH_2})
  if(NOT version EQUAL expected)
    message(FATAL_ERROR "migration ${f}: expected version ${expected}")
  endif()
  math(EXPR expected "${expected} + 1")
  file(READ ${DIR}/${f} sql)
  string(FIND "${sql}" ")parley_sql\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "migration ${f} contains the raw string delimiter")
  endif()
  string(APPEND body "    {${version}, \"${name}\", R\"parley_sql(${sql})parley_sql\"},\n")
endforeach()
if(expected EQUAL 1)
  message(FATAL_ERROR "no migrations in ${DIR}")
endif()
set(content "// Generated from src/store/mariadb/migrations/*.sql by embed_migrations.cmake.
#include \"store/mariadb/mariadb_migrations.h\"

namespace parley::store {

std::span<const MariaDbMigration> MariaDbMigrations() {
  static constexpr MariaDbMigration kMigrations[] = {
${body}  };
  return kMigrations;
}

}  // namespace parley::store
")
# Unchanged content leaves the file (and its object) alone.
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL content)
  file(WRITE ${OUT} "${content}")
endif()
