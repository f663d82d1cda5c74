// parley: the command line. `parley serve` runs the embedded server.
#include <sys/resource.h>

#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Parley: a distributed instant-messaging server"};
  app.set_version_flag("--version", std::string("parley ") + PARLEY_VERSION);
  app.require_subcommand(1);

  parley::Options options;
  std::string config_path;
  CLI::App* serve =
      app.add_subcommand("serve", "Run every tier in one process over SQLite (embedded mode)");
  auto* listen = serve
                     ->add_option("--listen", options.listen,
                                  "HOST:PORT for HTTP, WebSocket /ws and the web client")
                     ->capture_default_str();
  auto* data_dir =
      serve->add_option("--data-dir", options.storage.data_dir, "Directory for the SQLite files")
          ->capture_default_str();
  auto* cost = serve
                   ->add_option("--password-hash-cost", options.password_hash_cost,
                                "argon2id cost: min, interactive or moderate")
                   ->check(CLI::IsMember({"min", "interactive", "moderate"}))
                   ->capture_default_str();
  serve
      ->add_option("--config", config_path,
                   "JSON file with any other setting (see docs/configuration.md)")
      ->check(CLI::ExistingFile);
  auto* web_root = serve->add_option("--web-root", options.web_root, "Directory of the web client");
  auto* node_id = serve->add_option("--node-id", options.node_id, "Snowflake node id, 0-1023")
                      ->check(CLI::Range(0, 1023))
                      ->capture_default_str();
  auto* threads = serve->add_option("--threads", options.threads, "Network threads")
                      ->check(CLI::Range(1, 256))
                      ->capture_default_str();
  auto* log_level =
      serve->add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off")
          ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (!config_path.empty()) {
    // Flags win over the file: load it into a copy, then re-apply the flags given.
    parley::Options from_file;
    if (parley::Status s = parley::LoadConfigFile(config_path, &from_file); !s.ok()) {
      std::fprintf(stderr, "parley: %s\n", s.message().c_str());
      return 2;
    }
    if (listen->count()) from_file.listen = options.listen;
    if (data_dir->count()) from_file.storage.data_dir = options.storage.data_dir;
    if (cost->count()) from_file.password_hash_cost = options.password_hash_cost;
    if (web_root->count()) from_file.web_root = options.web_root;
    if (node_id->count()) from_file.node_id = options.node_id;
    if (threads->count()) from_file.threads = options.threads;
    if (log_level->count()) from_file.log_level = options.log_level;
    options = std::move(from_file);
  }
  if (options.web_root.empty()) options.web_root = DefaultWebRoot(argv[0]);

  parley::SetupLogging(options.log_level);
  RaiseFileLimit();
  parley::app::EmbeddedServer server(options);
  if (parley::Status s = server.Start(); !s.ok()) {
    spdlog::critical("event=start_failed error=\"{}\"", s.message());
    std::fprintf(stderr, "parley: %s\n", s.message().c_str());
    return 1;
  }
  return server.Run();
}
