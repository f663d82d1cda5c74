#include "discovery/etcd/lease_keeper.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
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
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

class LeaseKeeperImpl;

// One LeaseKeepAlive stream. Deletes itself in OnDone. Renewals are written
// from the keeper's timer, outside the reactor's own callbacks, so a hold
// keeps the stream from finishing until its read fails (the one place that
// releases the hold); `released` and every StartWrite are under the keeper's
// mutex.
class KeepAliveStream final
    : public grpc::ClientBidiReactor<pb::LeaseKeepAliveRequest, pb::LeaseKeepAliveResponse> {
 public:
  KeepAliveStream(std::shared_ptr<LeaseKeeperImpl> keeper, asio::any_io_executor executor,
                  std::shared_ptr<EtcdEndpoint> endpoint, int64_t lease_id)
      : work_(asio::prefer(std::move(executor), asio::execution::outstanding_work.tracked)),
        keeper_(std::move(keeper)),
        endpoint_(std::move(endpoint)) {
    request_.set_id(lease_id);
  }

  void Begin() {
    endpoint_->lease->async()->LeaseKeepAlive(&ctx_, this);
    AddHold();
    StartRead(&response_);
    StartCall();
  }
  // Requires the keeper's mutex and !released.
  void SendRenewal() { StartWrite(&request_); }
  // Requires the keeper's mutex.
  void Cancel() { ctx_.TryCancel(); }

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  bool released = false;  // guarded by the keeper's mutex

 private:
  // Counts as work of the keeper's io_context until the stream is gone:
  // OnDone runs on a gRPC thread and may drop the last reference to the
  // keeper, whose timer belongs to that context. Declared first: released
  // last.
  const asio::any_io_executor work_;
  const std::shared_ptr<LeaseKeeperImpl> keeper_;
  const std::shared_ptr<EtcdEndpoint> endpoint_;
  grpc::ClientContext ctx_;
  pb::LeaseKeepAliveRequest request_;
  pb::LeaseKeepAliveResponse response_;
};

class LeaseKeeperImpl final : public LeaseKeeper,
                              public std::enable_shared_from_this<LeaseKeeperImpl> {
 public:
  LeaseKeeperImpl(std::shared_ptr<EtcdClient> client, asio::any_io_executor executor,
                  int64_t lease_id, int64_t ttl_s, LeaseKeeperOptions options,
                  std::function<void()> on_lost)
      : client_(std::move(client)),
        executor_(std::move(executor)),
        strand_(asio::make_strand(executor_)),
        timer_(strand_),
        lease_id_(lease_id),
        ttl_(milliseconds(ttl_s * 1000)),
        options_(options),
        on_lost_(std::move(on_lost)) {
    const auto now = Clock::now();
    valid_until_ = now + ttl_;
    next_send_ = now + ttl_ / 3;
  }

  void Begin() {
    asio::post(strand_, [self = shared_from_this()] { self->Tick(); });
  }

  void Stop() override {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    if (stream_) stream_->Cancel();
    asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }

  bool lost() const override {
    std::lock_guard lock(mu_);
    return lost_;
  }
  int64_t lease_id() const override { return lease_id_; }

  void WriteDone() { write_in_flight_ = false; }

  void Acknowledged(int64_t ttl_s) {
    std::unique_lock lock(mu_);
    if (stopped_ || lost_) return;
    if (ttl_s <= 0) {
      lock.unlock();
      DeclareLost("etcd no longer has the lease");
      return;
    }
    if (!sent_.empty()) {
      valid_until_ = std::max(valid_until_, sent_.front() + milliseconds(ttl_s * 1000));
      sent_.pop_front();
    }
  }

  // The stream read failed: no more writes on it.
  void ReadFailed(KeepAliveStream* stream) {
    std::lock_guard lock(mu_);
    stream->released = true;
    stream->RemoveHold();
  }

  void StreamDone(KeepAliveStream* stream, const EtcdEndpoint& endpoint,
                  const grpc::Status& status) {
    std::lock_guard lock(mu_);
    if (stream_ != stream) return;
    stream_ = nullptr;
    sent_.clear();
    write_in_flight_ = false;
    reopen_at_ = Clock::now() + milliseconds(options_.stream_retry_ms);
    if (!stopped_ && !lost_) {
      spdlog::debug("event=etcd_keepalive_stream_failed lease={} code={} msg=\"{}\"", lease_id_,
                    static_cast<int>(status.error_code()), status.error_message());
      client_->EndpointFailed(endpoint.index);
    }
  }

 private:
  void Tick() {
    const auto now = Clock::now();
    {
      std::unique_lock lock(mu_);
      if (stopped_ || lost_) return;
      if (now >= valid_until_ - ttl_ / 10) {
        lock.unlock();
        DeclareLost("no renewal acknowledged in time");
        return;
      }
      if (!stream_ && now >= reopen_at_) {
        stream_ = new KeepAliveStream(shared_from_this(), executor_, client_->CurrentEndpoint(),
                                      lease_id_);
        stream_->Begin();
      }
      // A renewal answered after ttl/3 still counts: only one is in flight.
      if (stream_ && !stream_->released && !write_in_flight_ && now >= next_send_) {
        write_in_flight_ = true;
        if (sent_.size() >= kMaxUnanswered) sent_.pop_front();
        sent_.push_back(now);
        next_send_ = now + ttl_ / 3;
        stream_->SendRenewal();
      }
    }
    timer_.expires_after(
        std::max(milliseconds(20), std::chrono::duration_cast<milliseconds>(ttl_ / 20)));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->Tick();
    });
  }

  void DeclareLost(const char* why) {
    {
      std::lock_guard lock(mu_);
      if (lost_ || stopped_) return;
      lost_ = true;
      if (stream_) stream_->Cancel();
    }
    spdlog::warn("event=etcd_lease_lost lease={} why=\"{}\"", lease_id_, why);
    pb::LeaseRevokeRequest revoke;
    revoke.set_id(lease_id_);
    client_->LeaseRevoke(std::move(revoke), [](StatusOr<pb::LeaseRevokeResponse>) {});
    asio::post(executor_, [self = shared_from_this()] {
      {
        std::lock_guard lock(self->mu_);
        if (self->stopped_) return;
      }
      if (self->on_lost_) self->on_lost_();
    });
  }

  static constexpr size_t kMaxUnanswered = 16;

  const std::shared_ptr<EtcdClient> client_;
  const asio::any_io_executor executor_;
  asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer timer_;  // used on strand_ only
  const int64_t lease_id_;
  const Clock::duration ttl_;
  const LeaseKeeperOptions options_;
  const std::function<void()> on_lost_;
  std::atomic<bool> write_in_flight_{false};

  mutable std::mutex mu_;
  // State below is protected by mu_.
  bool stopped_ = false;
  bool lost_ = false;
  KeepAliveStream* stream_ = nullptr;
  Clock::time_point valid_until_;
  Clock::time_point next_send_;
  Clock::time_point reopen_at_{};
  std::deque<Clock::time_point> sent_;  // send times of unanswered renewals, in order
};

void KeepAliveStream::OnWriteDone(bool) { keeper_->WriteDone(); }

void KeepAliveStream::OnReadDone(bool ok) {
  if (!ok) return keeper_->ReadFailed(this);
  keeper_->Acknowledged(response_.ttl());
  StartRead(&response_);
}

void KeepAliveStream::OnDone(const grpc::Status& status) {
  keeper_->StreamDone(this, *endpoint_, status);
  delete this;
}

}  // namespace

std::shared_ptr<LeaseKeeper> LeaseKeeper::Start(std::shared_ptr<EtcdClient> client,
                                                asio::any_io_executor executor, int64_t lease_id,
                                                int64_t ttl_s, LeaseKeeperOptions options,
                                                std::function<void()> on_lost) {
  auto keeper = std::make_shared<LeaseKeeperImpl>(std::move(client), std::move(executor), lease_id,
                                                  ttl_s, options, std::move(on_lost));
  keeper->Begin();
  return keeper;
}

}  // namespace parley::discovery
