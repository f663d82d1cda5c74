#include "discovery/etcd/prefix_watcher.h"

#include <atomic>
#include <mutex>
#include <utility>

#include <grpcpp/support/client_callback.h>
#include <spdlog/spdlog.h>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace parley::discovery {

namespace asio = boost::asio;
namespace pb = etcdserverpb;

namespace {

class PrefixWatcherImpl;

// One Watch stream with one watcher on it. Deletes itself in OnDone. All of
// its operations start from its own callbacks (the create request is queued
// before StartCall), so it needs no hold.
class WatchStream final : public grpc::ClientBidiReactor<pb::WatchRequest, pb::WatchResponse> {
 public:
  WatchStream(std::shared_ptr<PrefixWatcherImpl> owner, asio::any_io_executor executor,
              std::shared_ptr<EtcdEndpoint> endpoint, pb::WatchRequest create)
      : work_(asio::prefer(std::move(executor), asio::execution::outstanding_work.tracked)),
        owner_(std::move(owner)),
        endpoint_(std::move(endpoint)),
        create_(std::move(create)) {}

  void Begin() {
    endpoint_->watch->async()->Watch(&ctx_, this);
    StartWrite(&create_);
    StartRead(&response_);
    StartCall();
  }
  // Requires the owner's mutex (the stream is alive while it is registered).
  void Cancel() { ctx_.TryCancel(); }

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  // Counts as work of the watcher's io_context until the stream is gone:
  // OnDone runs on a gRPC thread, and may drop the last reference to the
  // watcher, whose timer belongs to that context; so the context must not
  // finish (and be destroyed) before. Declared first: released last.
  const asio::any_io_executor work_;
  const std::shared_ptr<PrefixWatcherImpl> owner_;
  const std::shared_ptr<EtcdEndpoint> endpoint_;
  grpc::ClientContext ctx_;
  const pb::WatchRequest create_;
  pb::WatchResponse response_;
};

class PrefixWatcherImpl final : public PrefixWatcher,
                                public std::enable_shared_from_this<PrefixWatcherImpl> {
 public:
  PrefixWatcherImpl(std::shared_ptr<EtcdClient> client, asio::any_io_executor executor,
                    std::string prefix, PrefixWatcherOptions options,
                    std::function<void(const Snapshot&, int64_t)> handler)
      : client_(std::move(client)),
        strand_(asio::make_strand(executor)),
        timer_(strand_),
        prefix_(std::move(prefix)),
        range_end_(PrefixRangeEnd(prefix_)),
        options_(options),
        handler_(std::move(handler)) {}

  void Begin() {
    if (options_.list_before_start_returns) {
      ++lists_;
      StatusOr<pb::RangeResponse> listed = client_->RangeSync(ListRequest());
      if (listed.ok()) return Listed(std::move(listed));
    }
    List();
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      if (!stopped_) {
        stopped_ = true;
        if (stream_) stream_->Cancel();
        asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
      }
    }
    // Waits for a call in progress on another thread; queued calls see
    // handler_stopped_ and do nothing.
    std::lock_guard lock(handler_mu_);
    handler_stopped_ = true;
  }

  uint64_t lists() const override { return lists_.load(); }

  // False ends the stream (then it is listed again).
  bool OnResponse(const pb::WatchResponse& response) {
    std::lock_guard lock(mu_);
    if (stopped_) return false;
    if (response.canceled()) {
      spdlog::info(
          "event=etcd_watch_canceled prefix={} compact_revision={} reason=\"{}\" (listing again)",
          prefix_, response.compact_revision(), response.cancel_reason());
      relist_now_ = true;
      return false;
    }
    // One delivery per revision: a transaction's changes arrive together.
    int64_t pending = 0;
    for (const mvccpb::Event& event : response.events()) {
      const int64_t revision = event.kv().mod_revision();
      if (pending != 0 && revision != pending) DeliverLocked();
      pending = revision;
      if (event.type() == mvccpb::Event::DELETE) {
        snapshot_.erase(event.kv().key());
      } else {
        snapshot_[event.kv().key()] = event.kv();
      }
      revision_ = revision;
    }
    if (pending != 0) DeliverLocked();
    return true;
  }

  void StreamDone(WatchStream* stream, const EtcdEndpoint& endpoint, const grpc::Status& status) {
    std::lock_guard lock(mu_);
    if (stream_ == stream) stream_ = nullptr;
    if (stopped_) return;
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      spdlog::debug("event=etcd_watch_stream_failed prefix={} code={} msg=\"{}\"", prefix_,
                    static_cast<int>(status.error_code()), status.error_message());
      client_->EndpointFailed(endpoint.index);
    }
    // A broken stream resumes where it was; a canceled watch (its revision
    // was compacted away) cannot, and lists again.
    if (relist_now_) {
      relist_now_ = false;
      ScheduleLocked(0, &PrefixWatcherImpl::List);
    } else {
      ScheduleLocked(options_.retry_ms, &PrefixWatcherImpl::Resume);
    }
  }

 private:
  pb::RangeRequest ListRequest() const {
    pb::RangeRequest req;
    req.set_key(prefix_);
    req.set_range_end(range_end_);
    req.set_limit(options_.max_keys + 1);
    return req;
  }

  void List() {
    ++lists_;
    // The callback runs on a gRPC thread and may hold the last reference:
    // it keeps the io_context at work meanwhile (see WatchStream::work_).
    client_->Range(ListRequest(),
                   [work = asio::prefer(strand_.get_inner_executor(),
                                        asio::execution::outstanding_work.tracked),
                    self = shared_from_this()](StatusOr<pb::RangeResponse> r) mutable {
                     self->Listed(std::move(r));
                     self.reset();  // before `work`
                   });
  }

  void Listed(StatusOr<pb::RangeResponse> listed) {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    if (!listed.ok() || listed->kvs_size() > options_.max_keys) {
      spdlog::warn("event=etcd_list_failed prefix={} msg=\"{}\"", prefix_,
                   listed.ok() ? "more keys than max_keys" : listed.status().message());
      ScheduleLocked(options_.retry_ms, &PrefixWatcherImpl::List);
      return;
    }
    Snapshot fresh;
    for (const mvccpb::KeyValue& kv : listed->kvs()) fresh[kv.key()] = kv;
    revision_ = listed->header().revision();
    const bool changed = !delivered_once_ || !SameKeys(fresh, snapshot_);
    snapshot_ = std::move(fresh);
    if (changed) DeliverLocked();

    WatchLocked();
  }

  // Watches from the revision after the last one applied. Requires mu_.
  void WatchLocked() {
    pb::WatchRequest create;
    pb::WatchCreateRequest* c = create.mutable_create_request();
    c->set_key(prefix_);
    c->set_range_end(range_end_);
    c->set_start_revision(revision_ + 1);
    stream_ = new WatchStream(shared_from_this(), strand_.get_inner_executor(),
                              client_->CurrentEndpoint(), std::move(create));
    stream_->Begin();
  }

  static bool SameKeys(const Snapshot& a, const Snapshot& b) {
    if (a.size() != b.size()) return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      if (ia->first != ib->first || ia->second.mod_revision() != ib->second.mod_revision()) {
        return false;
      }
    }
    return true;
  }

  void Resume() {
    std::lock_guard lock(mu_);
    if (!stopped_ && !stream_) WatchLocked();
  }

  // Runs `step` after `delay_ms` unless stopped by then.
  void ScheduleLocked(int64_t delay_ms, void (PrefixWatcherImpl::*step)()) {
    asio::post(strand_, [self = shared_from_this(), delay_ms, step] {
      self->timer_.expires_after(std::chrono::milliseconds(delay_ms));
      self->timer_.async_wait([self, step](boost::system::error_code ec) {
        if (ec) return;
        {
          std::lock_guard lock(self->mu_);
          if (self->stopped_) return;
        }
        ((*self).*step)();
      });
    });
  }

  void DeliverLocked() {
    delivered_once_ = true;
    auto snapshot = std::make_shared<const Snapshot>(snapshot_);
    asio::post(strand_, [self = shared_from_this(), snapshot, revision = revision_] {
      std::lock_guard lock(self->handler_mu_);
      if (!self->handler_stopped_) self->handler_(*snapshot, revision);
    });
  }

  const std::shared_ptr<EtcdClient> client_;
  asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer timer_;  // used on strand_ only
  const std::string prefix_;
  const std::string range_end_;
  const PrefixWatcherOptions options_;
  const std::function<void(const Snapshot&, int64_t)> handler_;
  std::atomic<uint64_t> lists_{0};

  std::mutex mu_;
  // State below is protected by mu_.
  bool stopped_ = false;
  bool relist_now_ = false;
  bool delivered_once_ = false;
  WatchStream* stream_ = nullptr;
  Snapshot snapshot_;
  int64_t revision_ = 0;

  // Held while the handler runs; recursive, so that the handler may Stop.
  std::recursive_mutex handler_mu_;
  bool handler_stopped_ = false;  // guarded by handler_mu_
};

void WatchStream::OnReadDone(bool ok) {
  if (!ok) return;
  if (owner_->OnResponse(response_)) {
    StartRead(&response_);
  } else {
    ctx_.TryCancel();
  }
}

void WatchStream::OnDone(const grpc::Status& status) {
  owner_->StreamDone(this, *endpoint_, status);
  delete this;
}

}  // namespace

std::shared_ptr<PrefixWatcher> PrefixWatcher::Start(
    std::shared_ptr<EtcdClient> client, asio::any_io_executor executor, std::string prefix,
    PrefixWatcherOptions options, std::function<void(const Snapshot&, int64_t)> handler) {
  auto watcher = std::make_shared<PrefixWatcherImpl>(
      std::move(client), std::move(executor), std::move(prefix), options, std::move(handler));
  watcher->Begin();
  return watcher;
}

}  // namespace parley::discovery
