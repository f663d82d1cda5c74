// How a Push's frames could reach their sessions (ConnectNode::Push, issue
// 9): the push consumer's thread hands N (session, frame) pairs to the
// network thread, each session being a strand of its own.
//  - PerFrame: one post to the session's strand per frame (what the server
//    does).
//  - Batched: one post of the whole batch to a strand of the node, which
//    dispatches to each session's strand (inline, as it is free). Cheaper
//    per frame here, but it made no difference end to end (parley-bench,
//    docs/benchmarks.md "Network thread"), so the server does not use it.
// The "session" only touches its frames; an io_context thread runs the
// handlers, as in the server. Each iteration waits for the last frame, so
// with both threads on one core the wall time is the cost of both.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

namespace {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;
using Frame = std::shared_ptr<const std::string>;

struct FakeSession {
  explicit FakeSession(asio::io_context& io) : strand(asio::make_strand(io.get_executor())) {}
  Strand strand;
  size_t frames = 0;  // bytes, in fact: touches the frame as a session would
};

struct World {
  explicit World(size_t n) : work(io.get_executor()), push_strand(asio::make_strand(io)) {
    for (size_t i = 0; i < n; ++i) sessions.push_back(std::make_shared<FakeSession>(io));
    runner = std::thread([this] { io.run(); });
  }
  ~World() {
    work.reset();
    runner.join();
  }
  void WaitFor(size_t expected) {
    while (done.load(std::memory_order_acquire) < expected) std::this_thread::yield();
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  Strand push_strand;
  std::vector<std::shared_ptr<FakeSession>> sessions;
  std::atomic<size_t> done{0};
  std::thread runner;
};

Frame TestFrame() { return std::make_shared<const std::string>(std::string(300, 'x')); }

void BM_PushHandoffPerFrame(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  World w(n);
  Frame frame = TestFrame();
  size_t expected = 0;
  for (auto _ : state) {
    for (const auto& s : w.sessions) {
      asio::post(s->strand, [&w, s, frame] {
        s->frames += frame->size();
        w.done.fetch_add(1, std::memory_order_release);
      });
    }
    expected += n;
    w.WaitFor(expected);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));  // frames
}
BENCHMARK(BM_PushHandoffPerFrame)->Arg(1)->Arg(16)->Arg(256);

void BM_PushHandoffBatched(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  World w(n);
  Frame frame = TestFrame();
  size_t expected = 0;
  for (auto _ : state) {
    std::vector<std::pair<std::shared_ptr<FakeSession>, Frame>> batch;
    batch.reserve(n);
    for (const auto& s : w.sessions) batch.emplace_back(s, frame);
    asio::post(w.push_strand, [&w, batch = std::move(batch)]() mutable {
      for (auto& [s, f] : batch) {
        FakeSession& session = *s;
        asio::dispatch(session.strand, [&w, s = std::move(s), f = std::move(f)] {
          s->frames += f->size();
          w.done.fetch_add(1, std::memory_order_release);
        });
      }
    });
    expected += n;
    w.WaitFor(expected);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));  // frames
}
BENCHMARK(BM_PushHandoffBatched)->Arg(1)->Arg(16)->Arg(256);

}  // namespace
