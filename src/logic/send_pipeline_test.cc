// The send pipeline through the Logic facade: order, idempotency, limits,
// deadlines, and what a failed append leaves behind (nothing: no ack, no seq
// gap, no duplicate after the retry).
#include <future>
#include <set>

#include <gtest/gtest.h>

#include "logic/logic_test_world.h"
#include "model/conversation.h"

namespace parley::logic {
namespace {

using testing::LogicWorld;
using testing::Wait;

class SendPipelineTest : public ::testing::Test {
 protected:
  SendPipelineTest() {
    a = w.Register("alice");
    b = w.Register("bob");
    as_a = w.Login("alice");
    as_b = w.Login("bob");
    conv = model::ConvId::Private(a, b).ToString();
  }
  // Sends without waiting; the reply lands in the future.
  std::future<rpc::SendBatchReply> SendLater(const CallContext& ctx,
                                             std::vector<rpc::SendRequest> reqs, int n = 0) {
    auto p = std::make_shared<std::promise<rpc::SendBatchReply>>();
    rpc::SendBatch batch;
    for (auto& r : reqs) *batch.add_requests() = std::move(r);
    w.node(n).Send(ctx, batch, [p](rpc::SendBatchReply r) { p->set_value(std::move(r)); });
    return p->get_future();
  }

  LogicWorld w;
  uint64_t a = 0, b = 0;
  CallContext as_a, as_b;
  std::string conv;
};

TEST_F(SendPipelineTest, ConcurrentSendsGetUniqueGapFreeSeqsAndAreDurableBeforeTheAck) {
  std::vector<std::future<rpc::SendBatchReply>> acks;
  for (int i = 0; i < 200; ++i) {
    acks.push_back(SendLater(i % 2 ? as_a : as_b, {LogicWorld::Message("m" + std::to_string(i),
                                                                       i % 2 ? b : a, "hello")}));
  }
  std::vector<int> times(201, 0);
  std::set<uint64_t> ids;
  for (auto& f : acks) {
    auto r = f.get().replies(0);
    ASSERT_EQ(r.error().code(), rpc::OK) << r.error().message();
    ASSERT_GE(r.seq(), 1u);
    ASSERT_LE(r.seq(), 200u);
    ++times[r.seq()];
    EXPECT_EQ(r.conv(), conv);
    ids.insert(r.msg_id());
  }
  for (int seq = 1; seq <= 200; ++seq) EXPECT_EQ(times[seq], 1) << "seq " << seq;
  EXPECT_EQ(ids.size(), 200u);
  auto logged = w.Logged(200);  // all in the durable log, in seq order
  ASSERT_EQ(logged.size(), 200u);
  for (size_t i = 0; i < logged.size(); ++i) EXPECT_EQ(logged[i].seq(), i + 1);
}

TEST_F(SendPipelineTest, TheSendsOfABatchGetSeqsInBatchOrder) {
  std::vector<rpc::SendRequest> batch;
  for (int i = 0; i < 50; ++i)
    batch.push_back(LogicWorld::Message("o" + std::to_string(i), b, "x"));
  auto r = w.SendBatch(as_a, batch);
  ASSERT_EQ(r.replies_size(), 50);
  uint64_t prev_id = 0;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(r.replies(i).client_id(), "o" + std::to_string(i));
    EXPECT_EQ(r.replies(i).seq(), static_cast<uint64_t>(i + 1));
    EXPECT_GT(r.replies(i).msg_id(), prev_id);
    prev_id = r.replies(i).msg_id();
  }
}

TEST_F(SendPipelineTest, ABatchIsAnsweredInOrderEachRequestOnItsOwn) {
  auto r =
      w.SendBatch(as_a, {LogicWorld::Message("b1", b, "one"), LogicWorld::Message("b2", 999, "x"),
                         LogicWorld::Message("b3", b, ""), LogicWorld::Message("b4", b, "four")});
  ASSERT_EQ(r.replies_size(), 4);
  EXPECT_EQ(r.replies(0).seq(), 1u);
  EXPECT_EQ(r.replies(1).error().code(), rpc::NOT_FOUND);
  EXPECT_EQ(r.replies(2).error().code(), rpc::INVALID_ARGUMENT);
  EXPECT_EQ(r.replies(3).seq(), 2u);
  EXPECT_EQ(r.replies(3).client_id(), "b4");
  EXPECT_EQ(w.SendBatch(as_a, {}).replies_size(), 0);
}

TEST_F(SendPipelineTest, AnOversizedBatchIsRefusedWhole) {
  std::vector<rpc::SendRequest> many;
  for (uint32_t i = 0; i <= w.options().limits.send_batch_max; ++i) {
    many.push_back(LogicWorld::Message("o" + std::to_string(i), b, "x"));
  }
  auto r = w.SendBatch(as_a, many);
  ASSERT_EQ(r.replies_size(), static_cast<int>(many.size()));
  for (const auto& reply : r.replies()) EXPECT_EQ(reply.error().code(), rpc::INVALID_ARGUMENT);
  EXPECT_EQ(w.Send(as_a, "after", b, "x").seq(), 1u);
}

TEST_F(SendPipelineTest, AResendGetsTheFirstAckWhateverTheBody) {
  auto first = w.Send(as_a, "same-id", b, "one");
  auto again = w.Send(as_a, "same-id", b, "two");
  EXPECT_EQ(again.msg_id(), first.msg_id());
  EXPECT_EQ(again.seq(), first.seq());
  EXPECT_EQ(again.ts(), first.ts());
  EXPECT_EQ(w.Send(as_b, "same-id", a, "from bob").seq(), 2u);  // ids are per sender
  // Twice in one batch: numbered once.
  auto both = w.SendBatch(
      as_a, {LogicWorld::Message("twice", b, "x"), LogicWorld::Message("twice", b, "y")});
  EXPECT_EQ(both.replies(0).seq(), 3u);
  EXPECT_EQ(both.replies(1).msg_id(), both.replies(0).msg_id());
  EXPECT_EQ(w.Logged(3).size(), 3u);
}

TEST_F(SendPipelineTest, RejectsBadInput) {
  EXPECT_EQ(w.Send(as_a, "x1", 999, "hi").error().code(), rpc::NOT_FOUND);
  EXPECT_EQ(w.Send(as_a, "x3", b, "").error().code(), rpc::INVALID_ARGUMENT);
  EXPECT_EQ(w.Send(as_a, "bad id", b, "hi").error().code(), rpc::INVALID_ARGUMENT);
  EXPECT_EQ(w.Send(as_a, "x4", b, "hi", 5).error().code(), rpc::INVALID_ARGUMENT);  // both targets
  EXPECT_EQ(w.Send(as_a, "x5", 0, "hi").error().code(), rpc::INVALID_ARGUMENT);     // neither
  EXPECT_EQ(w.Send(as_a, "x6", b, std::string(w.options().limits.body_max + 1, 'x')).error().code(),
            rpc::INVALID_ARGUMENT);
  EXPECT_EQ(w.Send(CallContext{}, "x7", b, "hi").error().code(), rpc::UNAUTHENTICATED);
  EXPECT_EQ(w.Send(as_a, "ok", b, "hi").seq(), 1u);  // no seq was spent on the rejects
}

TEST_F(SendPipelineTest, SendsOverTheRateGetRateLimitedWithRetryAfter) {
  Options o = testing::TestOptions();
  o.rate.send_burst = 2;
  o.rate.send_per_sec = 1;
  w.AddNode(&o);
  EXPECT_EQ(w.Send(as_a, "r1", b, "hi", 0, 1).error().code(), rpc::OK);
  EXPECT_EQ(w.Send(as_a, "r2", b, "hi", 0, 1).error().code(), rpc::OK);
  auto r = w.Send(as_a, "r3", b, "hi", 0, 1);
  EXPECT_EQ(r.error().code(), rpc::RATE_LIMITED);
  EXPECT_EQ(r.error().retry_after_ms(), 1000);
  w.clock().AdvanceMs(1000);
  EXPECT_EQ(w.Send(as_a, "r3", b, "hi", 0, 1).error().code(), rpc::OK);
}

TEST_F(SendPipelineTest, AFailedAppendAcksNothingLeavesNoGapAndTheRetryIsNumberedOnce) {
  w.Send(as_a, "before", b, "first");  // seq 1
  w.log().FailNextAppends(1);
  auto failed = w.SendBatch(
      as_a, {LogicWorld::Message("f1", b, "lost?"), LogicWorld::Message("f2", b, "lost?")});
  for (const auto& r : failed.replies()) {
    EXPECT_EQ(r.error().code(), rpc::UNAVAILABLE);
    EXPECT_EQ(r.seq(), 0u);
  }
  // The client retries with the same ids: numbered once, right after seq 1.
  auto retried = w.SendBatch(
      as_a, {LogicWorld::Message("f1", b, "lost?"), LogicWorld::Message("f2", b, "lost?")});
  EXPECT_EQ(retried.replies(0).seq(), 2u);
  EXPECT_EQ(retried.replies(1).seq(), 3u);
  EXPECT_EQ(w.Send(as_a, "f1", b, "again").seq(), 2u);  // and a later resend gets the first ack
  auto logged = w.Logged(3);
  ASSERT_EQ(logged.size(), 3u);
  for (size_t i = 0; i < logged.size(); ++i) EXPECT_EQ(logged[i].seq(), i + 1);
  EXPECT_EQ(logged[1].client_id(), "f1");
}

TEST_F(SendPipelineTest, AFailedAppendLeavesThePipelineServingOthers) {
  w.log().FailNextAppends(1);
  auto failed = w.Send(as_a, "h1", b, "x");
  EXPECT_EQ(failed.error().code(), rpc::UNAVAILABLE);
  auto ok = w.Send(as_b, "h2", a, "y");  // another sender, same conversation
  EXPECT_EQ(ok.error().code(), rpc::OK);
  EXPECT_EQ(ok.seq(), 1u);
  EXPECT_EQ(w.log().AppendsReachedTarget(), 1u);
}

TEST_F(SendPipelineTest, AResendWhileTheFirstIsInFlightWaitsForItsAck) {
  w.log().HoldAppends();
  auto first = SendLater(as_a, {LogicWorld::Message("dup", b, "x")});
  auto resend = SendLater(as_a, {LogicWorld::Message("dup", b, "x")});
  EXPECT_EQ(resend.wait_for(std::chrono::milliseconds(20)), std::future_status::timeout);
  w.log().ReleaseAppends();
  auto r1 = first.get().replies(0), r2 = resend.get().replies(0);
  EXPECT_EQ(r1.seq(), 1u);
  EXPECT_EQ(r2.msg_id(), r1.msg_id());
  EXPECT_EQ(w.Send(as_a, "next", b, "z").seq(), 2u);
}

TEST_F(SendPipelineTest, ASendThatMissedItsDeadlineIsNotAppended) {
  w.log().HoldAppends();
  auto blocker = SendLater(as_a, {LogicWorld::Message("blocker", b, "x")});
  CallContext hurried = as_a;
  hurried.deadline_ms = w.clock().NowMs() + 100;
  auto late = SendLater(hurried, {LogicWorld::Message("late", b, "y")});
  w.clock().AdvanceMs(200);  // it waited behind the held append past its deadline
  w.log().ReleaseAppends();
  EXPECT_EQ(blocker.get().replies(0).seq(), 1u);
  auto r = late.get().replies(0);
  EXPECT_EQ(r.error().code(), rpc::UNAVAILABLE);
  EXPECT_EQ(r.error().message(), "deadline exceeded");
  EXPECT_EQ(w.Send(as_a, "late", b, "y").seq(), 2u);  // the id is free; no seq was spent
}

// Issue 10, finding 2: a send accepted while its session was valid, but
// still waiting to be appended when the session expired, is not stored.
TEST_F(SendPipelineTest, ASendThatWaitedPastItsSessionsExpiryIsNotStored) {
  w.log().HoldAppends();
  auto blocker = SendLater(as_b, {LogicWorld::Message("blocker", a, "x")});
  for (int i = 0; i < 5000 && w.log().HeldAppends() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(w.log().HeldAppends(), 1u);
  auto late = SendLater(as_a, {LogicWorld::Message("late", b, "y")});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // admitted, waiting to append
  w.clock().AdvanceMs(w.options().token_ttl_ms);                // both sessions expire meanwhile
  w.log().ReleaseAppends();
  EXPECT_EQ(blocker.get().replies(0).seq(), 1u);  // already appending when it expired
  auto r = late.get().replies(0);
  EXPECT_EQ(r.error().code(), rpc::UNAUTHENTICATED);
  EXPECT_EQ(r.error().message(), "token expired");
  EXPECT_EQ(w.Logged(1).size(), 1u);
}

}  // namespace
}  // namespace parley::logic
