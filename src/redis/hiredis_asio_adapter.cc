#include "redis/hiredis_asio_adapter.h"

#include <hiredis/async.h>

#include <memory>

#include <boost/asio/posix/stream_descriptor.hpp>

namespace parley::redis::internal {
namespace {

class Adapter : public std::enable_shared_from_this<Adapter> {
 public:
  Adapter(redisAsyncContext* ac, Strand strand) : ac_(ac), socket_(strand) {}

  bool Assign(int fd) {
    boost::system::error_code ec;
    socket_.assign(fd, ec);
    return !ec;
  }

  void Want(int dir, bool on) {
    want_[dir] = on;
    if (on) Arm(dir);
  }

  // The context is being freed: stop calling into it, and hand the socket
  // back without closing it (redisFree closes it).
  void Detach() {
    ac_ = nullptr;
    want_[0] = want_[1] = false;
    if (socket_.is_open()) socket_.release();
  }

 private:
  static constexpr int kRead = 0;

  // async_wait is one-shot while hiredis' interest is level-like: a wait is
  // re-armed after each readiness for as long as hiredis still wants it.
  void Arm(int dir) {
    if (armed_[dir] || !ac_) return;
    armed_[dir] = true;
    socket_.async_wait(dir == kRead ? boost::asio::posix::stream_descriptor::wait_read
                                    : boost::asio::posix::stream_descriptor::wait_write,
                       [self = shared_from_this(), dir](const boost::system::error_code& ec) {
                         self->OnReady(dir, ec);
                       });
  }

  void OnReady(int dir, const boost::system::error_code& ec) {
    armed_[dir] = false;
    if (!ac_ || ec == boost::asio::error::operation_aborted || !want_[dir]) return;
    // Other errors (the peer hung up) are for hiredis to find on its read or
    // write; it then frees the context, which detaches this adapter.
    if (dir == kRead) {
      redisAsyncHandleRead(ac_);
    } else {
      redisAsyncHandleWrite(ac_);
    }
    if (ac_ && want_[dir]) Arm(dir);
  }

  redisAsyncContext* ac_;
  boost::asio::posix::stream_descriptor socket_;
  bool want_[2] = {false, false};
  bool armed_[2] = {false, false};
};

using Holder = std::shared_ptr<Adapter>;

Adapter& Of(void* data) { return **static_cast<Holder*>(data); }
void AddRead(void* data) { Of(data).Want(0, true); }
void DelRead(void* data) { Of(data).Want(0, false); }
void AddWrite(void* data) { Of(data).Want(1, true); }
void DelWrite(void* data) { Of(data).Want(1, false); }
void Cleanup(void* data) {
  auto* holder = static_cast<Holder*>(data);
  (*holder)->Detach();
  delete holder;
}

}  // namespace

bool AttachAsioAdapter(redisAsyncContext* ac, Strand strand) {
  if (ac->ev.data != nullptr) return false;
  auto adapter = std::make_shared<Adapter>(ac, std::move(strand));
  if (!adapter->Assign(ac->c.fd)) return false;
  ac->ev.data = new Holder(std::move(adapter));
  ac->ev.addRead = AddRead;
  ac->ev.delRead = DelRead;
  ac->ev.addWrite = AddWrite;
  ac->ev.delWrite = DelWrite;
  ac->ev.cleanup = Cleanup;
  return true;
}

}  // namespace parley::redis::internal
