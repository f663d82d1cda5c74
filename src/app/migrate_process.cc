// `parley migrate`: brings the MariaDB schema to this binary's version.
#include <cstdio>

#include <spdlog/spdlog.h>

#include "app/cluster_roles.h"
#include "store/mariadb/mariadb_store.h"

namespace parley::app {

int RunMigrate(Options options) {
  if (options.cluster.mysql.empty()) {
    std::fprintf(stderr, "parley migrate: --mysql is required\n");
    return 2;
  }
  auto version = store::MariaDbStore::Migrate(options.cluster.mysql);
  if (!version.ok()) {
    spdlog::critical("event=migrate_failed error=\"{}\"", version.status().message());
    std::fprintf(stderr, "parley migrate: %s\n", version.status().message().c_str());
    return 1;
  }
  std::printf("parley migrate: schema at version %d\n", *version);
  return 0;
}

}  // namespace parley::app
