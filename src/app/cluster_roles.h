// The processes of cluster mode, one function per role: each builds its tier
// on the shared servers (etcd, Redis, MariaDB), serves until SIGTERM, drains
// and returns the process's exit code. The command line (main.cc) fills the
// Options.
#pragma once

#include "common/options.h"

namespace parley::app {

// The HTTP API, the web client and /ws (proxied to a connect node), over
// LogicRPC. Several api processes may share options.listen.
int RunApi(Options options);
// The logic tier, serving LogicRPC on options.cluster.grpc_listen.
int RunLogic(Options options);
// The task tier: the push and persist consumers of the partitions it owns.
int RunTask(Options options);
// The connect tier: WebSockets on options.listen, ConnectRPC on
// options.cluster.grpc_listen.
int RunConnect(Options options);
// Creates or upgrades the MariaDB schema, then exits.
int RunMigrate(Options options);

}  // namespace parley::app
