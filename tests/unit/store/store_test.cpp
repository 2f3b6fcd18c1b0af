// SPDX-License-Identifier: Apache-2.0
// Ingest dedup, rejected messages, account steps, job completion with its outbox row, ops verbs.
#include "kyc_bridge/store/store.hpp"

#include <gtest/gtest.h>

#include "store_fixture.hpp"

namespace kyc_bridge::store::testing {
namespace {

std::int64_t Count(Store& store, const std::string& state) {
    auto counts = store.CountJobsByState();
    EXPECT_TRUE(counts.ok());
    for (const auto& [name, count] : *counts) {
        if (name == state) return count;
    }
    return -1;
}

RejectedEvent Rejected(std::int64_t offset, const std::string& payload) {
    provision::OutboundEvent letter{"dl-" + std::to_string(offset),
                                    "customer.kyc_verified.dlq",
                                    "cus_1",
                                    payload,
                                    {{"kyc_bridge_error", "missing_field: email"}}};
    return RejectedEvent{Origin{"customer.kyc_verified", 2, offset}, "missing_field: email",
                         letter, {}};
}

TEST_F(StoreTest, IngestDedupsEventIdsWithinAndAcrossBatches) {
    auto first = store_->Ingest(
        {Accepted("e1", "c1", 1), Accepted("e1", "c1", 2), Accepted("e2", "c2", 3)}, {});
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(first->accepted, 2);
    EXPECT_EQ(first->duplicates, 1);

    auto second = store_->Ingest({Accepted("e2", "c2", 4), Accepted("e3", "c1", 5)}, {});
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second->accepted, 1);
    EXPECT_EQ(second->duplicates, 1);
    EXPECT_EQ(Count(*store_, "pending"), 3);
}

TEST_F(StoreTest, IngestRecordsARedeliveredPoisonMessageOnceWithOneDeadLetter) {
    auto payload = std::string(R"({"event_id":"bad-1","customer_id":"cus_1"})");
    auto first = store_->Ingest({}, {Rejected(7, payload), Rejected(7, payload)});
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->rejected, 1);
    auto again = store_->Ingest({}, {Rejected(7, payload)});
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->rejected, 0);

    auto rejected = store_->ListRejected(10);
    ASSERT_TRUE(rejected.ok());
    ASSERT_EQ(rejected->size(), 1u);
    EXPECT_EQ((*rejected)[0].origin.partition, 2);
    EXPECT_EQ((*rejected)[0].origin.offset, 7);
    EXPECT_EQ((*rejected)[0].event_id, "bad-1");
    EXPECT_EQ((*rejected)[0].reason, "missing_field: email");

    auto outbox = store_->PendingOutbox(0, 10);
    ASSERT_TRUE(outbox.ok());
    ASSERT_EQ(outbox->size(), 1u);
    EXPECT_EQ((*outbox)[0].event.event_id, "dl-7");
    EXPECT_EQ((*outbox)[0].event.payload, payload);
    EXPECT_EQ((*outbox)[0].event.headers, Rejected(7, payload).dead_letter.headers);
}

TEST_F(StoreTest, RejectedPayloadWithoutEventIdIsKeptWithAnEmptyOne) {
    ASSERT_TRUE(store_->Ingest({}, {Rejected(1, "not json at all")}).ok());
    auto rejected = store_->ListRejected(10);
    ASSERT_TRUE(rejected.ok());
    ASSERT_EQ(rejected->size(), 1u);
    EXPECT_EQ((*rejected)[0].event_id, "");
}

TEST_F(StoreTest, RecordedStepsRoundTripThroughLoadAccount) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    auto job_id = (*store_->DueJobs(clock_.Now(), 10, {}))[0].job_id;
    auto none = store_->LoadAccount("c1");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());

    ASSERT_TRUE(Sync(*store_).RecordUser(job_id, "c1", "auth0|c1", "created").ok());
    auto created = store_->LoadAccount("c1");
    ASSERT_TRUE(created.ok() && created->has_value());
    EXPECT_EQ((*created)->auth0_user_id, "auth0|c1");
    EXPECT_EQ((*created)->outcome, "created");
    EXPECT_FALSE((*created)->roles_assigned);
    EXPECT_FALSE((*created)->password_setup_sent);
    EXPECT_FALSE((*created)->published);

    ASSERT_TRUE(Sync(*store_).RecordRolesAssigned("c1").ok());
    ASSERT_TRUE(Sync(*store_).RecordPasswordEmailSent("c1").ok());
    ASSERT_TRUE(
        Sync(*store_).RecordUser(job_id, "c1", "auth0|c1", "existing").ok());  // keeps the flags
    auto account = store_->LoadAccount("c1");
    ASSERT_TRUE(account.ok() && account->has_value());
    EXPECT_EQ((*account)->customer_id, "c1");
    EXPECT_EQ((*account)->outcome, "existing");
    EXPECT_TRUE((*account)->roles_assigned);
    EXPECT_TRUE((*account)->password_setup_sent);
    EXPECT_FALSE((*account)->published);
}

TEST_F(StoreTest, ProfileAppliedIsRecordedPerJob) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1"), Accepted("e2", "c2")}, {}).ok());
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->size(), 2u);
    ASSERT_TRUE(Sync(*store_).RecordProfileApplied((*due)[0].job_id).ok());
    due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok());
    EXPECT_TRUE((*due)[0].profile_applied);
    EXPECT_FALSE((*due)[1].profile_applied);
    auto unknown = Sync(*store_).RecordProfileApplied(999);
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().kind, core::ErrorKind::kPermanent);
}

TEST_F(StoreTest, CompleteJobQueuesTheEventAndMarksPublishedTogether) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1"), Accepted("e2", "c1")}, {}).ok());
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->size(), 1u);
    ASSERT_TRUE(Sync(*store_).RecordUser((*due)[0].job_id, "c1", "auth0|c1", "created").ok());
    ASSERT_TRUE(Sync(*store_).CompleteJob((*due)[0].job_id, "c1", Outbound("uc-c1", "c1")).ok());

    auto account = store_->LoadAccount("c1");
    ASSERT_TRUE(account.ok() && account->has_value());
    EXPECT_TRUE((*account)->published);
    auto unsent = store_->CountUnsentOutbox();
    ASSERT_TRUE(unsent.ok());
    EXPECT_EQ(*unsent, 1);

    // The customer's second event completes with the same deterministic event id: no new row.
    due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ((*due)[0].event.event_id, "e2");
    ASSERT_TRUE(Sync(*store_).CompleteJob((*due)[0].job_id, "c1", Outbound("uc-c1", "c1")).ok());
    unsent = store_->CountUnsentOutbox();
    ASSERT_TRUE(unsent.ok());
    EXPECT_EQ(*unsent, 1);
    EXPECT_EQ(Count(*store_, "done"), 2);
}

TEST_F(StoreTest, CompleteJobWithoutEventLeavesTheOutboxAlone) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok() && due->size() == 1u);
    ASSERT_TRUE(Sync(*store_).CompleteJob((*due)[0].job_id, "c1", std::nullopt).ok());
    EXPECT_EQ(*store_->CountUnsentOutbox(), 0);
    EXPECT_FALSE(store_->LoadAccount("c1")->has_value());
    // Completing again (a crash between CompleteJob and the caller's bookkeeping) is harmless.
    EXPECT_TRUE(Sync(*store_).CompleteJob((*due)[0].job_id, "c1", std::nullopt).ok());
}

TEST_F(StoreTest, PendingOutboxPagesBySeqAndMarkSentRemovesRows) {
    ASSERT_TRUE(
        store_->Ingest({Accepted("e1", "c1"), Accepted("e2", "c2"), Accepted("e3", "c3")}, {})
            .ok());
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok());
    for (const auto& job : *due) {
        auto id = job.event.customer_id;
        ASSERT_TRUE(Sync(*store_).CompleteJob(job.job_id, id, Outbound("uc-" + id, id)).ok());
    }
    auto page = store_->PendingOutbox(0, 2);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->size(), 2u);
    EXPECT_EQ((*page)[0].event.event_id, "uc-c1");
    EXPECT_LT((*page)[0].seq, (*page)[1].seq);
    EXPECT_EQ((*page)[0].event.headers, Outbound("x", "y").headers);
    auto rest = store_->PendingOutbox((*page)[1].seq, 10);
    ASSERT_TRUE(rest.ok());
    ASSERT_EQ(rest->size(), 1u);
    EXPECT_EQ((*rest)[0].event.event_id, "uc-c3");

    ASSERT_TRUE(store_->MarkSent((*page)[0].seq).ok());
    ASSERT_TRUE(store_->MarkSent((*page)[0].seq).ok());  // a repeated report is harmless
    auto after = store_->PendingOutbox(0, 10);
    ASSERT_TRUE(after.ok());
    ASSERT_EQ(after->size(), 2u);
    EXPECT_EQ((*after)[0].event.event_id, "uc-c2");
    EXPECT_EQ(*store_->CountUnsentOutbox(), 2);
}

TEST_F(StoreTest, ReplayPutsAFailedJobBackDueNowWithAttemptsReset) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    auto job_id = (*store_->DueJobs(clock_.Now(), 10, {}))[0].job_id;
    ASSERT_TRUE(Sync(*store_).FailJob(job_id, 5, core::Error::Permanent("role not found")).ok());
    EXPECT_TRUE(store_->DueJobs(clock_.Now(), 10, {})->empty());
    auto failed = store_->ListJobs("failed", 10);
    ASSERT_TRUE(failed.ok());
    ASSERT_EQ(failed->size(), 1u);
    EXPECT_EQ((*failed)[0].attempts, 5);
    EXPECT_EQ((*failed)[0].last_error, "permanent: role not found");

    clock_.Advance(std::chrono::hours{1});
    auto replayed = store_->ReplayJob(job_id);
    ASSERT_TRUE(replayed.ok());
    EXPECT_TRUE(*replayed);
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ((*due)[0].attempts, 0);
    EXPECT_EQ((*due)[0].next_attempt_at, core::FromUnixMillis(NowMs()));
    EXPECT_EQ((*due)[0].last_error, "permanent: role not found");  // kept as history

    auto again = store_->ReplayJob(job_id);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(*again);  // pending, not failed
    EXPECT_FALSE(*store_->ReplayJob(12345));
}

TEST_F(StoreTest, ConflictsAreCountedApartFromOtherFailures) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    auto job_id = (*store_->DueJobs(clock_.Now(), 10, {}))[0].job_id;
    const core::Error conflict{core::ErrorKind::kConflict, "409 unresolved", "conflict_unresolved",
                               409, std::nullopt};
    ASSERT_TRUE(
        Sync(*store_).RescheduleJob(job_id, 1, clock_.Now(), core::Error::Transient("503")).ok());
    ASSERT_TRUE(Sync(*store_).RescheduleJob(job_id, 2, clock_.Now(), conflict).ok());
    ASSERT_TRUE(Sync(*store_).RescheduleJob(job_id, 3, clock_.Now(), conflict).ok());
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ((*due)[0].attempts, 3);
    EXPECT_EQ((*due)[0].conflict_attempts, 2);
    ASSERT_TRUE(Sync(*store_).FailJob(job_id, 4, conflict).ok());
    ASSERT_TRUE(*store_->ReplayJob(job_id));
    EXPECT_EQ((*store_->DueJobs(clock_.Now(), 10, {}))[0].conflict_attempts, 0)
        << "a replay starts afresh";
}

TEST_F(StoreTest, OnlyPendingJobsAreRescheduledOrFailed) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    auto job_id = (*store_->DueJobs(clock_.Now(), 10, {}))[0].job_id;
    ASSERT_TRUE(Sync(*store_).CompleteJob(job_id, "c1", std::nullopt).ok());
    auto rescheduled =
        Sync(*store_).RescheduleJob(job_id, 1, clock_.Now(), core::Error::Transient("x"));
    ASSERT_FALSE(rescheduled.ok());
    EXPECT_EQ(rescheduled.error().kind, core::ErrorKind::kPermanent);
    EXPECT_FALSE(Sync(*store_).FailJob(job_id, 1, core::Error::Transient("x")).ok());
    EXPECT_EQ(Count(*store_, "done"), 1);
}

TEST_F(StoreTest, CountJobsByStateListsEveryState) {
    auto counts = store_->CountJobsByState();
    ASSERT_TRUE(counts.ok());
    std::vector<std::pair<std::string, std::int64_t>> expected = {
        {"pending", 0}, {"done", 0}, {"failed", 0}};
    EXPECT_EQ(*counts, expected);
}

}  // namespace
}  // namespace kyc_bridge::store::testing
