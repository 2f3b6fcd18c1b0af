// SPDX-License-Identifier: Apache-2.0
// The relay against a real store file and a scripted sink: marked sent only after a delivery
// report, failed deliveries and full queues sent again with the same event_id, and a restart
// re-sends what was not marked.
#include "kyc_bridge/relay/relay.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <set>

#include "store_fixture.hpp"

namespace kyc_bridge::relay {
namespace {

using namespace std::chrono_literals;
using store::testing::Accepted;
using store::testing::Outbound;
using store::testing::Sync;

/// Records what was sent; reports only what the test releases.
class ScriptedSink : public MessageSink {
public:
    SendResult Send(const provision::OutboundEvent& event, std::uint64_t seq,
                    std::string& rejection) override {
        if (queue_full) return SendResult::kQueueFull;
        if (too_large.count(event.event_id)) {
            rejection = "MSG_SIZE_TOO_LARGE: Broker: Message size too large";
            refused.push_back(event.event_id);
            return SendResult::kRejected;
        }
        sent.push_back({seq, event.event_id});
        return SendResult::kQueued;
    }
    std::vector<Delivery> Poll(std::chrono::milliseconds) override {
        std::vector<Delivery> out(released.begin(), released.end());
        released.clear();
        return out;
    }
    /// Releases a report for every send so far that has none yet.
    void ReportAll(bool delivered) {
        for (; reported < sent.size(); ++reported) {
            released.push_back(
                {sent[reported].first, delivered, false, delivered ? "" : "broker down"});
        }
    }

    bool queue_full = false;
    std::set<std::string> too_large;  ///< event_ids refused at produce time
    std::vector<std::string> refused;
    std::vector<std::pair<std::uint64_t, std::string>> sent;
    std::deque<Delivery> released;
    std::size_t reported = 0;
};

class RelayTest : public store::testing::StoreTest {
protected:
    /// Completes one job per customer, each with its outbound event "out-<customer>".
    void CompleteJobs(const std::vector<std::string>& customers) {
        std::vector<store::AcceptedEvent> accepted;
        for (std::size_t i = 0; i < customers.size(); ++i) {
            accepted.push_back(
                Accepted("in-" + customers[i], customers[i], static_cast<std::int64_t>(i)));
        }
        ASSERT_TRUE(store_->Ingest(accepted, {}).ok());
        auto jobs = store_->DueJobs(clock_.Now(), 100, {});
        ASSERT_TRUE(jobs.ok());
        for (const auto& job : *jobs) {
            ASSERT_TRUE(
                Sync(*store_)
                    .CompleteJob(job.job_id, job.event.customer_id,
                                 Outbound("out-" + job.event.customer_id, job.event.customer_id))
                    .ok());
        }
    }
    std::int64_t Unsent() { return *store_->CountUnsentOutbox(); }
};

TEST_F(RelayTest, RowsAreMarkedSentOnlyAfterTheirDeliveryReport) {
    CompleteJobs({"c1", "c2", "c3"});
    ScriptedSink sink;
    Relay relay(*store_, sink);
    relay.RunOnce(0ms);
    EXPECT_EQ(sink.sent.size(), 3u);
    EXPECT_EQ(Unsent(), 3) << "sent but not reported: still unsent in the store";
    relay.RunOnce(0ms);
    EXPECT_EQ(sink.sent.size(), 3u) << "in-flight rows are not sent twice";
    sink.ReportAll(true);
    relay.RunOnce(0ms);
    EXPECT_EQ(Unsent(), 0);
    EXPECT_EQ(relay.stats().published.load(), 3u);
}

TEST_F(RelayTest, AFailedDeliveryIsSentAgainWithTheSameEventId) {
    CompleteJobs({"c1", "c2"});
    ScriptedSink sink;
    Relay relay(*store_, sink);
    relay.RunOnce(0ms);
    sink.ReportAll(false);
    relay.RunOnce(0ms);  // collects the failures
    relay.RunOnce(0ms);  // sends again
    ASSERT_EQ(sink.sent.size(), 4u);
    EXPECT_EQ(sink.sent[2].second, sink.sent[0].second);
    EXPECT_EQ(sink.sent[3].second, sink.sent[1].second);
    EXPECT_EQ(Unsent(), 2);
    sink.ReportAll(true);
    relay.RunOnce(0ms);
    EXPECT_EQ(Unsent(), 0);
    EXPECT_EQ(relay.stats().delivery_failures.load(), 2u);
}

TEST_F(RelayTest, AFullProducerQueueDelaysRowsWithoutLosingThem) {
    CompleteJobs({"c1", "c2"});
    ScriptedSink sink;
    sink.queue_full = true;
    Relay relay(*store_, sink);
    relay.RunOnce(0ms);
    EXPECT_TRUE(sink.sent.empty());
    sink.queue_full = false;
    relay.RunOnce(0ms);
    EXPECT_EQ(sink.sent.size(), 2u);
}

TEST_F(RelayTest, ARestartSendsUnmarkedRowsAgainWithTheSameEventIds) {
    CompleteJobs({"c1", "c2", "c3"});
    std::vector<std::string> first_ids;
    {
        ScriptedSink sink;
        Relay relay(*store_, sink);
        relay.RunOnce(0ms);
        sink.released.push_back({sink.sent[0].first, true, false, ""});  // only c1 was reported
        relay.RunOnce(0ms);
        for (const auto& [seq, id] : sink.sent) first_ids.push_back(id);
    }  // "crash": the other two reports never arrive
    EXPECT_EQ(Unsent(), 2);
    store_ = Open();
    ScriptedSink sink;
    Relay relay(*store_, sink);
    relay.RunOnce(0ms);
    ASSERT_EQ(sink.sent.size(), 2u);
    EXPECT_EQ(sink.sent[0].second, first_ids[1]);
    EXPECT_EQ(sink.sent[1].second, first_ids[2]);
}

TEST_F(RelayTest, PoisonRowIsSetAsideAndRowsBehindItFlow) {
    CompleteJobs({"c1", "c2", "c3", "c4"});
    ScriptedSink sink;
    sink.too_large = {"out-c1"};  // refused at produce time
    Relay relay(*store_, sink);
    relay.RunOnce(0ms);
    ASSERT_EQ(sink.sent.size(), 3u) << "the rows behind the refused one were sent";
    EXPECT_EQ(sink.sent[0].second, "out-c2");
    EXPECT_EQ(relay.stats().set_aside.load(), 1u);

    // c3's report: the broker refuses it for good. c2 and c4 are delivered.
    sink.released.push_back({sink.sent[0].first, true, false, ""});
    sink.released.push_back({sink.sent[1].first, false, true, "INVALID_RECORD: Broker: invalid"});
    sink.released.push_back({sink.sent[2].first, true, false, ""});
    sink.reported = 3;
    relay.RunOnce(0ms);
    relay.RunOnce(0ms);
    EXPECT_EQ(sink.sent.size(), 3u) << "a permanently failed row is not sent again";
    EXPECT_EQ(sink.refused.size(), 1u);
    EXPECT_EQ(Unsent(), 0);
    EXPECT_EQ(relay.stats().set_aside.load(), 2u);
    EXPECT_EQ(relay.stats().published.load(), 2u);
    EXPECT_EQ(relay.stats().delivery_failures.load(), 0u);

    auto set_aside = store_->ListSetAside(10);
    ASSERT_TRUE(set_aside.ok());
    ASSERT_EQ(set_aside->size(), 2u);
    EXPECT_EQ((*set_aside)[0].event_id, "out-c3");
    EXPECT_EQ((*set_aside)[0].reason, "INVALID_RECORD: Broker: invalid");
    EXPECT_EQ((*set_aside)[1].event_id, "out-c1");
    EXPECT_EQ((*set_aside)[1].reason, "MSG_SIZE_TOO_LARGE: Broker: Message size too large");

    ScriptedSink after_restart;
    Relay again(*store_, after_restart);
    again.RunOnce(0ms);
    EXPECT_TRUE(after_restart.sent.empty() && after_restart.refused.empty());
}

TEST_F(RelayTest, MarksSentInBatches) {
    CompleteJobs({"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"});
    ScriptedSink sink;
    Relay relay(*store_, sink);
    relay.RunOnce(0ms);
    ASSERT_EQ(sink.sent.size(), 8u);
    sink.ReportAll(true);
    auto before = store_->stats().transactions_committed.load();
    relay.RunOnce(0ms);
    EXPECT_EQ(Unsent(), 0);
    EXPECT_EQ(store_->stats().transactions_committed.load(), before + 1)
        << "eight reports, one MarkSent";
    EXPECT_EQ(relay.stats().published.load(), 8u);
}

}  // namespace
}  // namespace kyc_bridge::relay
