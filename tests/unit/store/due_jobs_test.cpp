// SPDX-License-Identifier: Apache-2.0
// DueJobs: per-customer order, retries that block only their own customer, busy customers.
#include <gtest/gtest.h>

#include "kyc_bridge/store/store.hpp"
#include "store_fixture.hpp"

namespace kyc_bridge::store::testing {
namespace {

using namespace std::chrono_literals;

class DueJobsTest : public StoreTest {
protected:
    // Jobs 1..3: c1's first event, c2's event, c1's second event.
    void SetUp() override {
        StoreTest::SetUp();
        ASSERT_TRUE(
            store_->Ingest({Accepted("e1", "c1"), Accepted("e2", "c2"), Accepted("e3", "c1")}, {})
                .ok());
        auto due = store_->DueJobs(clock_.Now(), 10, {});
        ASSERT_TRUE(due.ok());
        ASSERT_EQ(due->size(), 2u);
        first_c1_ = (*due)[0].job_id;
        c2_ = (*due)[1].job_id;
    }
    std::vector<std::string> DueEvents(const std::set<std::string>& busy = {},
                                       std::size_t limit = 10) {
        auto due = store_->DueJobs(clock_.Now(), limit, busy);
        EXPECT_TRUE(due.ok()) << due.error().message;
        std::vector<std::string> ids;
        if (due.ok())
            for (const auto& job : *due) ids.push_back(job.event.event_id);
        return ids;
    }
    using Ids = std::vector<std::string>;

    std::int64_t first_c1_ = 0;
    std::int64_t c2_ = 0;
};

TEST_F(DueJobsTest, ReturnsTheStoredEventWithItsSchedule) {
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok());
    const auto& job = (*due)[0];
    EXPECT_EQ(job.event, Event("e1", "c1"));
    EXPECT_EQ(job.state, provision::JobState::kPending);
    EXPECT_EQ(job.attempts, 0);
    EXPECT_EQ(job.created_at, core::FromUnixMillis(NowMs()));
    EXPECT_EQ(job.next_attempt_at, core::FromUnixMillis(NowMs()));
    EXPECT_EQ(job.last_error, "");
}

TEST_F(DueJobsTest, ACustomersSecondJobWaitsUntilTheFirstIsDone) {
    EXPECT_EQ(DueEvents(), (Ids{"e1", "e2"}));
    ASSERT_TRUE(Sync(*store_).CompleteJob(first_c1_, "c1", std::nullopt).ok());
    EXPECT_EQ(DueEvents(), (Ids{"e2", "e3"}));
}

TEST_F(DueJobsTest, AFailedFirstJobNoLongerBlocksItsCustomer) {
    ASSERT_TRUE(Sync(*store_).FailJob(first_c1_, 3, core::Error::Permanent("bad request")).ok());
    EXPECT_EQ(DueEvents(), (Ids{"e2", "e3"}));
}

TEST_F(DueJobsTest, ARescheduledFirstJobBlocksOnlyItsOwnCustomer) {
    ASSERT_TRUE(
        Sync(*store_)
            .RescheduleJob(first_c1_, 1, clock_.Now() + 30s, core::Error::Transient("timeout"))
            .ok());
    EXPECT_EQ(DueEvents(), (Ids{"e2"}));
    auto next = store_->NextDueTime();
    ASSERT_TRUE(next.ok() && next->has_value());
    EXPECT_EQ(**next, clock_.Now());  // c2's job

    ASSERT_TRUE(Sync(*store_).CompleteJob(c2_, "c2", std::nullopt).ok());
    EXPECT_EQ(DueEvents(), Ids{});
    next = store_->NextDueTime();
    ASSERT_TRUE(next.ok() && next->has_value());
    EXPECT_EQ(**next, clock_.Now() + 30s);  // e3's own time has passed, but it waits behind e1

    clock_.Advance(30s);
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ((*due)[0].event.event_id, "e1");
    EXPECT_EQ((*due)[0].attempts, 1);
    EXPECT_EQ((*due)[0].last_error, "transient: timeout");
}

TEST_F(DueJobsTest, AReplayedJobRunsBeforeItsCustomersNewerPendingJob) {
    ASSERT_TRUE(Sync(*store_).FailJob(first_c1_, 3, core::Error::Permanent("bad request")).ok());
    EXPECT_EQ(DueEvents(), (Ids{"e2", "e3"}));
    ASSERT_TRUE(store_->ReplayJob(first_c1_).ok());
    EXPECT_EQ(DueEvents(), (Ids{"e1", "e2"}));
}

TEST_F(DueJobsTest, AJobWhosePayloadNoLongerParsesIsFailedAndUnblocksItsCustomer) {
    auto raw = OpenRaw(path_);
    ASSERT_EQ(sqlite3_exec(raw.get(), "UPDATE inbox SET payload = '{}' WHERE event_id = 'e1'",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    EXPECT_EQ(DueEvents(), (Ids{"e2"}));
    auto failed = store_->ListJobs("failed", 10);
    ASSERT_TRUE(failed.ok());
    ASSERT_EQ(failed->size(), 1u);
    EXPECT_EQ((*failed)[0].job_id, first_c1_);
    EXPECT_EQ(DueEvents(), (Ids{"e2", "e3"}));
}

TEST_F(DueJobsTest, SkipsBusyCustomersButNotOthers) {
    EXPECT_EQ(DueEvents({"c1"}), (Ids{"e2"}));
    EXPECT_EQ(DueEvents({"c1", "c2"}), Ids{});
    EXPECT_EQ(DueEvents({"nobody"}), (Ids{"e1", "e2"}));
}

TEST_F(DueJobsTest, ReturnsOldestFirstUpToTheLimit) { EXPECT_EQ(DueEvents({}, 1), (Ids{"e1"})); }

TEST_F(DueJobsTest, NextDueTimeIsEmptyWithoutPendingJobs) {
    ASSERT_TRUE(Sync(*store_).CompleteJob(first_c1_, "c1", std::nullopt).ok());
    ASSERT_TRUE(Sync(*store_).CompleteJob(c2_, "c2", std::nullopt).ok());
    auto last = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(last.ok() && last->size() == 1u);
    ASSERT_TRUE(Sync(*store_).CompleteJob((*last)[0].job_id, "c1", std::nullopt).ok());
    auto next = store_->NextDueTime();
    ASSERT_TRUE(next.ok());
    EXPECT_FALSE(next->has_value());
}

}  // namespace
}  // namespace kyc_bridge::store::testing
