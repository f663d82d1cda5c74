// Runs a real server from Debian's packages (redis-server, mariadbd, etcd) as
// a child of the test: on loopback, on a port nobody holds, with its data in a
// temporary directory of the test, and stopped by its own PID when the
// ServerProcess is destroyed. Not thread-safe: one test thread drives it.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace parley::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice).
inline uint16_t FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// True once something accepts TCP connections on 127.0.0.1:port.
inline bool LoopbackPortOpen(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return open;
}

// The first of `dirs`/`name` that exists, else `name` (left to PATH by execvp).
inline std::string FindServerBinary(const std::string& name,
                                    std::vector<std::string> dirs = {"/usr/sbin", "/usr/bin",
                                                                     "/usr/local/bin"}) {
  for (const auto& d : dirs) {
    std::filesystem::path p = std::filesystem::path(d) / name;
    if (std::filesystem::exists(p)) return p.string();
  }
  return name;
}

class ServerProcess {
 public:
  // Starts argv[0] with argv; stdout and stderr go to `log_path`.
  ServerProcess(std::vector<std::string> argv, const std::string& log_path) : argv_(argv) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // The server dies with the test, even a test killed by its timeout.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      // Nothing of the test's is inherited (a build lock held by the test
      // runner would otherwise live as long as the server).
      ::close_range(3, ~0U, 0);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { Stop(); }

  pid_t pid() const { return pid_; }

  // False once the process has exited (and reaps it).
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  // Waits until the server accepts connections on 127.0.0.1:port; false if
  // it exited or the timeout passed first.
  bool WaitForPort(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (!Running()) return false;
      if (LoopbackPortOpen(port)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Sends `sig` and waits for the exit (SIGKILL after `grace` if it lingers).
  void Signal(int sig, std::chrono::milliseconds grace = std::chrono::seconds(10)) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    auto until = std::chrono::steady_clock::now() + grace;
    while (Running()) {
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  // Crash: SIGKILL, nothing flushed.
  void Kill() { Signal(SIGKILL); }
  // Clean stop: SIGTERM, then SIGKILL after 10 s.
  void Stop() { Signal(SIGTERM); }

 private:
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
};

}  // namespace parley::testing
