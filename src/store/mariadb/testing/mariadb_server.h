// MariaDbServer: a real mariadbd (Debian's mariadb-server) for tests, on
// 127.0.0.1 at a free port, with its data directory and socket in a temp dir
// that goes with it. The constructor initializes the data directory
// (mariadb-install-db), starts the server, waits until it accepts
// connections, and creates the user `parley` (all privileges) and the
// database `parley`. Stop/Kill/Start/Restart keep the data directory and the
// port, for outage tests.
//
// Startup costs about a second, so a test binary shares one server:
// MariaDbServer::Shared() starts it on first use and stops it at exit; tests
// isolate themselves with CreateDatabase(). A test that stops the server
// should own its own MariaDbServer instead.
//
// Failures to start throw std::runtime_error (with the server log's tail).
// Not thread-safe: one test thread drives it. Link parley_mariadb_testing.
//
// Crash safety: mariadbd runs under `setpriv --pdeathsig KILL`, so a test
// binary that dies (abort, sanitizer report) takes its server with it instead
// of leaving an orphan. The signal follows the thread that started the
// server: construct (or first call Shared()) on a thread that outlives it,
// such as the test's main thread. The servers also do not inherit the test's
// open files (a build lock held by `flock ... ctest` among them).
#pragma once

#include <fcntl.h>
#include <mysql.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "support/server_process.h"
#include "support/test_util.h"

namespace parley::testing {

class MariaDbServer {
 public:
  static constexpr const char* kUser = "parley";
  static constexpr const char* kPassword = "parley-test";
  static constexpr const char* kDatabase = "parley";

  MariaDbServer() : port_(FreeLoopbackPort()) {
    const auto start = std::chrono::steady_clock::now();
    CloseInheritedFilesOnExec();
    Install();
    Start();
    Root(
        fmt::format("CREATE USER '{0}'@'127.0.0.1' IDENTIFIED BY '{1}';"
                    "CREATE USER '{0}'@'localhost' IDENTIFIED BY '{1}';"
                    "GRANT ALL PRIVILEGES ON *.* TO '{0}'@'127.0.0.1';"
                    "GRANT ALL PRIVILEGES ON *.* TO '{0}'@'localhost';"
                    "CREATE DATABASE {2} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    kUser, kPassword, kDatabase));
    startup_ = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
  }
  MariaDbServer(const MariaDbServer&) = delete;
  MariaDbServer& operator=(const MariaDbServer&) = delete;
  ~MariaDbServer() { Stop(); }

  // The binary's shared server, started on first use.
  static MariaDbServer& Shared() {
    static MariaDbServer server;
    return server;
  }

  uint16_t port() const { return port_; }
  std::string socket_path() const { return dir_.path() + "/sock"; }
  const std::string& data_dir() const { return data_dir_; }
  // From the constructor's start to the server ready, user and database made.
  std::chrono::milliseconds startup_time() const { return startup_; }
  // The server's log (install and runs), for failure messages.
  std::string LogTail(size_t bytes = 4000) const {
    std::ifstream in(log_path());
    std::stringstream ss;
    ss << in.rdbuf();
    std::string all = ss.str();
    return all.size() > bytes ? all.substr(all.size() - bytes) : all;
  }

  // mysql://parley:parley-test@127.0.0.1:<port>/<database>
  std::string Dsn(const std::string& database = kDatabase) const {
    return fmt::format("mysql://{}:{}@127.0.0.1:{}/{}", kUser, kPassword, port_, database);
  }
  // The same over the Unix socket.
  std::string SocketDsn(const std::string& database = kDatabase) const {
    return fmt::format("mysql://{}:{}@localhost/{}?socket={}", kUser, kPassword, database,
                       socket_path());
  }

  // A new, empty database ("<prefix>_<n>"); returns its DSN.
  std::string CreateDatabase(const std::string& prefix = "t") {
    std::string name = fmt::format("{}_{}", prefix, ++databases_);
    Root(fmt::format("CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", name));
    return Dsn(name);
  }

  // Runs statements (';'-separated) as root over the socket; throws on error.
  void Root(const std::string& sql) { RootQuery(sql); }
  // The first column of the first row of `sql`, as root ("" when no row).
  std::string RootQuery(const std::string& sql) {
    MYSQL* m = mysql_init(nullptr);
    const unsigned timeout = 10;
    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    std::string out;
    std::string error;
    if (mysql_real_connect(m, "localhost", "root", "", nullptr, 0, socket_path().c_str(),
                           CLIENT_MULTI_STATEMENTS) == nullptr) {
      error = mysql_error(m);
    } else if (mysql_real_query(m, sql.data(), sql.size()) != 0) {
      error = mysql_error(m);
    } else {
      bool first = true;
      do {
        MYSQL_RES* res = mysql_store_result(m);
        if (res != nullptr) {
          MYSQL_ROW row = mysql_fetch_row(res);
          if (first && row != nullptr && row[0] != nullptr) {
            out.assign(row[0], mysql_fetch_lengths(res)[0]);
          }
          first = false;
          mysql_free_result(res);
        }
      } while (mysql_next_result(m) == 0);
      if (mysql_errno(m) != 0) error = mysql_error(m);
    }
    mysql_close(m);
    if (!error.empty()) throw std::runtime_error("MariaDbServer: " + sql + ": " + error);
    return out;
  }

  // Starts mariadbd on the existing data directory and port, and waits until
  // it accepts connections.
  void Start() {
    std::vector<std::string> argv = {
        FindServerBinary("mariadbd"),
        "--no-defaults",
        "--datadir=" + data_dir_,
        "--socket=" + socket_path(),
        "--pid-file=" + dir_.path() + "/mariadbd.pid",
        fmt::format("--port={}", port_),
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
        "--skip-log-bin",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_bin",
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=16M",
        // Test data need not survive a power cut: commits reach the OS at
        // once (a killed mariadbd loses nothing) but are not fsynced.
        "--innodb-flush-log-at-trx-commit=2",
        "--innodb-doublewrite=0",
        "--max-connections=500",
    };
    if (::geteuid() == 0) argv.push_back("--user=root");  // mariadbd refuses root otherwise
    // setpriv execs mariadbd in place: the PID stays the server's.
    const std::string setpriv = FindServerBinary("setpriv", {"/usr/bin", "/bin"});
    if (std::filesystem::exists(setpriv)) {
      argv.insert(argv.begin(), {setpriv, "--pdeathsig", "KILL"});
    }
    server_ = std::make_unique<ServerProcess>(argv, log_path());
    if (!server_->WaitForPort(port_)) {
      throw std::runtime_error("MariaDbServer: mariadbd did not start:\n" + LogTail());
    }
  }
  // Clean shutdown (SIGTERM); waits for the exit.
  void Stop() {
    if (server_) server_->Stop();
    server_.reset();
  }
  // Crash (SIGKILL).
  void Kill() {
    if (server_) server_->Kill();
    server_.reset();
  }
  void Restart() {
    Stop();
    Start();
  }
  bool running() const { return server_ != nullptr; }

 private:
  std::string log_path() const { return dir_.path() + "/mariadb.log"; }

  // A server that outlived the test would otherwise keep every descriptor
  // the test inherited, e.g. the shared build lock of `flock lock ctest`.
  static void CloseInheritedFilesOnExec() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
      int fd = -1;
      try {
        fd = std::stoi(entry.path().filename().string());
      } catch (const std::exception&) {
        continue;
      }
      if (fd <= 2) continue;
      const int flags = ::fcntl(fd, F_GETFD);
      if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
  }

  void Install() {
    std::vector<std::string> argv = {
        FindServerBinary("mariadb-install-db", {"/usr/bin", "/usr/sbin", "/usr/local/bin"}),
        "--no-defaults",
        "--datadir=" + data_dir_,
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        "--innodb-log-file-size=16M",
        "--innodb-buffer-pool-size=64M",
    };
    if (::geteuid() == 0) argv.push_back("--user=root");
    ServerProcess install(argv, log_path());
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (install.Running()) {
      if (std::chrono::steady_clock::now() > until) {
        install.Kill();
        throw std::runtime_error("MariaDbServer: mariadb-install-db hung:\n" + LogTail());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!std::filesystem::exists(data_dir_ + "/mysql")) {
      throw std::runtime_error("MariaDbServer: mariadb-install-db failed:\n" + LogTail());
    }
  }

  TempDir dir_;
  std::string data_dir_ = dir_.path() + "/data";
  uint16_t port_;
  std::unique_ptr<ServerProcess> server_;
  int databases_ = 0;
  std::chrono::milliseconds startup_{0};
};

}  // namespace parley::testing
