// parley: the command line. `parley serve` runs the embedded server; `parley
// api|logic|task|connect` run one tier of a cluster; `parley migrate`
// prepares a cluster's MariaDB schema.
#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "app/cluster_roles.h"
#include "app/embedded_server.h"
#include "common/config_file.h"
#include "common/logging.h"

namespace {

// Finds the web client when no --web-root is given: installed next to the
// binary, else the source tree it was built from.
std::string DefaultWebRoot(const char* argv0) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (ec) exe = fs::absolute(argv0);
  for (const fs::path& candidate :
       {exe.parent_path().parent_path() / "share/parley/web", fs::path(PARLEY_SOURCE_WEB_ROOT)}) {
    if (fs::exists(candidate / "index.html", ec)) return candidate.string();
  }
  return "";
}

// Many connections need many descriptors: take what the hard limit allows.
void RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// The flags of one subcommand. Flags given on the command line win over the
// config file: each flag records how to copy its value from the parsed
// options into the options read from the file.
class Flags {
 public:
  Flags(CLI::App* cmd, parley::Options* options) : cmd_(cmd), o_(options) {}

  template <typename T>
  CLI::Option* Add(const std::string& name, T parley::Options::*field, const std::string& help) {
    return Track(
        cmd_->add_option(name, o_->*field, help)->capture_default_str(),
        [field](parley::Options& to, const parley::Options& from) { to.*field = from.*field; });
  }
  template <typename S, typename T>
  CLI::Option* Add(const std::string& name, S parley::Options::*sub, T S::*field,
                   const std::string& help) {
    return Track(cmd_->add_option(name, (o_->*sub).*field, help)->capture_default_str(),
                 [sub, field](parley::Options& to, const parley::Options& from) {
                   (to.*sub).*field = (from.*sub).*field;
                 });
  }

  // Applies the config file (if any), then the flags given, to *options.
  bool Finish(const std::string& config_path) {
    if (config_path.empty()) return true;
    parley::Options from_file;
    if (parley::Status s = parley::LoadConfigFile(config_path, &from_file); !s.ok()) {
      std::fprintf(stderr, "parley: %s\n", s.message().c_str());
      return false;
    }
    for (auto& [opt, copy] : given_) {
      if (opt->count()) copy(from_file, *o_);
    }
    *o_ = std::move(from_file);
    return true;
  }

 private:
  using Copy = std::function<void(parley::Options&, const parley::Options&)>;
  CLI::Option* Track(CLI::Option* opt, Copy copy) {
    given_.emplace_back(opt, std::move(copy));
    return opt;
  }
  CLI::App* cmd_;
  parley::Options* o_;
  std::vector<std::pair<CLI::Option*, Copy>> given_;
};

}  // namespace

int main(int argc, char** argv) {
  using parley::ClusterOptions;
  using parley::Options;
  using parley::StorageOptions;

  CLI::App app{"Parley: a distributed instant-messaging server"};
  app.set_version_flag("--version", std::string("parley ") + PARLEY_VERSION);
  app.require_subcommand(1);

  Options options;
  std::string config_path;
  std::vector<std::unique_ptr<Flags>> all_flags;
  std::map<CLI::App*, Flags*> flags_of;

  auto add_command = [&](const std::string& name, const std::string& help) {
    CLI::App* cmd = app.add_subcommand(name, help);
    all_flags.push_back(std::make_unique<Flags>(cmd, &options));
    Flags& f = *all_flags.back();
    flags_of[cmd] = &f;
    cmd->add_option("--config", config_path,
                    "JSON file with any other setting (see docs/configuration.md)")
        ->check(CLI::ExistingFile);
    f.Add("--log-level", &Options::log_level, "trace, debug, info, warn, error or off");
    f.Add("--log-format", &Options::log_format, "text (logfmt lines) or json (JSON lines)")
        ->check(CLI::IsMember({"text", "json"}));
    f.Add("--threads", &Options::threads, "Network threads")->check(CLI::Range(1, 256));
    return std::make_pair(cmd, &f);
  };
  // Flags of every cluster process.
  auto add_cluster = [&](Flags& f, bool store, bool redis) {
    f.Add("--etcd", &Options::cluster, &ClusterOptions::etcd, "etcd endpoints, HOST:PORT[,...]");
    if (redis) f.Add("--redis", &Options::cluster, &ClusterOptions::redis, "Redis HOST:PORT");
    if (store) {
      f.Add("--mysql", &Options::cluster, &ClusterOptions::mysql,
            "MariaDB DSN, mysql://user:password@host:port/database");
    }
    f.Add("--node-id", &Options::cluster, &ClusterOptions::node_name,
          "This process's name in discovery (allocated through etcd when absent)");
    f.Add("--partitions", &Options::cluster, &ClusterOptions::partitions,
          "Redis stream partitions of the message log (the same in every process)")
        ->check(CLI::Range(1, 4096));
  };

  auto [serve, serve_flags] =
      add_command("serve", "Run every tier in one process over SQLite (embedded mode)");
  serve_flags->Add("--listen", &Options::listen,
                   "HOST:PORT for HTTP, WebSocket /ws and the web client");
  serve_flags->Add("--data-dir", &Options::storage, &StorageOptions::data_dir,
                   "Directory for the SQLite files");
  serve_flags->Add("--web-root", &Options::web_root, "Directory of the web client");
  serve_flags->Add("--node-id", &Options::node_id, "Snowflake node id, 0-1023")
      ->check(CLI::Range(0, 1023));

  auto [api, api_flags] = add_command("api", "Cluster: the HTTP API, the web client and /ws");
  add_cluster(*api_flags, false, false);
  api_flags->Add("--listen", &Options::listen, "Public HOST:PORT (shared by every api process)");
  api_flags->Add("--web-root", &Options::web_root, "Directory of the web client");

  auto [logic, logic_flags] = add_command("logic", "Cluster: the logic tier (LogicRPC)");
  add_cluster(*logic_flags, true, true);
  logic_flags->Add("--listen", &Options::listen, "HOST:PORT for /healthz, /readyz, /metrics");
  logic_flags->Add("--grpc-listen", &Options::cluster, &ClusterOptions::grpc_listen,
                   "HOST:PORT for LogicRPC");

  auto [task, task_flags] = add_command("task", "Cluster: the push and persist consumers");
  add_cluster(*task_flags, true, true);
  task_flags->Add("--listen", &Options::listen, "HOST:PORT for /healthz, /readyz, /metrics");

  auto [conn, conn_flags] = add_command("connect", "Cluster: WebSockets (ConnectRPC)");
  add_cluster(*conn_flags, false, false);
  conn_flags->Add("--listen", &Options::listen, "HOST:PORT for WebSocket /ws, /healthz, /readyz");
  conn_flags->Add("--grpc-listen", &Options::cluster, &ClusterOptions::grpc_listen,
                  "HOST:PORT for ConnectRPC");
  conn_flags->Add("--public-ws-url", &Options::public_ws_url,
                  "The WebSocket URL clients use for this node (default: ws://<listen>/ws)");

  auto [migrate, migrate_flags] =
      add_command("migrate", "Cluster: create or upgrade the MariaDB schema");
  migrate_flags->Add("--mysql", &Options::cluster, &ClusterOptions::mysql,
                     "MariaDB DSN, mysql://user:password@host:port/database");

  // Processes with a client port serve /metrics elsewhere (logic and task:
  // on --listen).
  for (CLI::App* cmd : {serve, api, conn}) {
    flags_of[cmd]->Add("--admin-listen", &Options::admin_listen,
                       "HOST:PORT for /metrics and the detailed /readyz (\"\" turns it off)");
  }
  for (CLI::App* cmd : {serve, api, logic}) {
    flags_of[cmd]
        ->Add("--password-hash-cost", &Options::password_hash_cost,
              "argon2id cost: min, interactive or moderate")
        ->check(CLI::IsMember({"min", "interactive", "moderate"}));
  }

  CLI11_PARSE(app, argc, argv);

  CLI::App* chosen = app.get_subcommands().front();
  if (!flags_of[chosen]->Finish(config_path)) return 2;
  if (options.web_root.empty()) options.web_root = DefaultWebRoot(argv[0]);

  std::string role = chosen->get_name();
  parley::LogFields fields;
  if (role != "serve") {
    fields.emplace_back("role", role);
    if (!options.cluster.node_name.empty()) fields.emplace_back("node", options.cluster.node_name);
  }
  parley::SetupLogging(options.log_level, options.log_format, fields);
  RaiseFileLimit();

  if (role == "api") return parley::app::RunApi(std::move(options));
  if (role == "logic") return parley::app::RunLogic(std::move(options));
  if (role == "task") return parley::app::RunTask(std::move(options));
  if (role == "connect") return parley::app::RunConnect(std::move(options));
  if (role == "migrate") return parley::app::RunMigrate(std::move(options));

  parley::app::EmbeddedServer server(options);
  if (parley::Status s = server.Start(); !s.ok()) {
    spdlog::critical("event=start_failed error=\"{}\"", s.message());
    std::fprintf(stderr, "parley: %s\n", s.message().c_str());
    return 1;
  }
  return server.Run();
}
