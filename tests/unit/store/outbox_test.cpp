// SPDX-License-Identifier: Apache-2.0
// Outbox rows set aside for good and sent in batches; the password email's two-phase record.
#include <gtest/gtest.h>

#include "kyc_bridge/store/store.hpp"
#include "store_fixture.hpp"

namespace kyc_bridge::store::testing {
namespace {

class OutboxTest : public StoreTest {
protected:
    /// Three completed jobs with outbound events uc-c1..uc-c3; their seqs, in order.
    std::vector<std::int64_t> ThreeRows() {
        EXPECT_TRUE(
            store_->Ingest({Accepted("e1", "c1"), Accepted("e2", "c2"), Accepted("e3", "c3")}, {})
                .ok());
        auto due = store_->DueJobs(clock_.Now(), 10, {});
        EXPECT_TRUE(due.ok());
        for (const auto& job : *due) {
            const auto& id = job.event.customer_id;
            EXPECT_TRUE(Sync(*store_).CompleteJob(job.job_id, id, Outbound("uc-" + id, id)).ok());
        }
        std::vector<std::int64_t> seqs;
        auto rows = store_->PendingOutbox(0, 10);
        EXPECT_TRUE(rows.ok());
        for (const auto& row : *rows) seqs.push_back(row.seq);
        EXPECT_EQ(seqs.size(), 3u);
        return seqs;
    }
};

TEST_F(OutboxTest, ASetAsideRowLeavesTheBacklogAndIsListedWithItsReason) {
    auto seqs = ThreeRows();
    ASSERT_TRUE(
        store_->SetAsideOutbox(seqs[1], "MSG_SIZE_TOO_LARGE: Broker: Message too large").ok());

    auto pending = store_->PendingOutbox(0, 10);
    ASSERT_TRUE(pending.ok());
    ASSERT_EQ(pending->size(), 2u);
    EXPECT_EQ((*pending)[0].event.event_id, "uc-c1");
    EXPECT_EQ((*pending)[1].event.event_id, "uc-c3");
    EXPECT_EQ(*store_->CountUnsentOutbox(), 2);

    auto set_aside = store_->ListSetAside(10);
    ASSERT_TRUE(set_aside.ok());
    ASSERT_EQ(set_aside->size(), 1u);
    EXPECT_EQ((*set_aside)[0].seq, seqs[1]);
    EXPECT_EQ((*set_aside)[0].event_id, "uc-c2");
    EXPECT_EQ((*set_aside)[0].topic, "auth.user_created");
    EXPECT_EQ((*set_aside)[0].reason, "MSG_SIZE_TOO_LARGE: Broker: Message too large");
    EXPECT_EQ((*set_aside)[0].set_aside_at_ms, NowMs());
    EXPECT_EQ(*store_->CountSetAside(), 1);

    // Setting aside again, or a sent row, changes nothing.
    ASSERT_TRUE(store_->SetAsideOutbox(seqs[1], "other").ok());
    ASSERT_TRUE(store_->MarkSent(seqs[0]).ok());
    ASSERT_TRUE(store_->SetAsideOutbox(seqs[0], "late").ok());
    EXPECT_EQ(store_->ListSetAside(10)->at(0).reason,
              "MSG_SIZE_TOO_LARGE: Broker: Message too large");
    EXPECT_EQ(*store_->CountSetAside(), 1);

    store_ = Open();  // it stays aside after a restart
    EXPECT_EQ(store_->PendingOutbox(0, 10)->size(), 1u);
    EXPECT_EQ(*store_->CountSetAside(), 1);
}

TEST_F(OutboxTest, MarkSentTakesABatchInOneTransaction) {
    auto seqs = ThreeRows();
    auto before = store_->stats().transactions_committed.load();
    ASSERT_TRUE(store_->MarkSent(seqs).ok());
    EXPECT_EQ(store_->stats().transactions_committed.load(), before + 1);
    EXPECT_EQ(*store_->CountUnsentOutbox(), 0);
    EXPECT_TRUE(store_->MarkSent(seqs).ok()) << "marking again is a no-op";
}

TEST_F(OutboxTest, ThePasswordEmailIsRecordedInTwoPhases) {
    ASSERT_TRUE(Sync(*store_).RecordPasswordEmailSending("c1").ok());
    auto sending = store_->LoadAccount("c1");
    ASSERT_TRUE(sending.ok() && sending->has_value());
    EXPECT_TRUE((*sending)->password_email_sending);
    EXPECT_FALSE((*sending)->password_setup_sent) << "uncertain until the call returned";

    ASSERT_TRUE(Sync(*store_).RecordPasswordEmailSent("c1").ok());
    auto sent = store_->LoadAccount("c1");
    ASSERT_TRUE(sent.ok() && sent->has_value());
    EXPECT_TRUE((*sent)->password_email_sending) << "sent implies sending";
    EXPECT_TRUE((*sent)->password_setup_sent);
}

}  // namespace
}  // namespace kyc_bridge::store::testing
