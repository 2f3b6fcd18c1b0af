// SPDX-License-Identifier: Apache-2.0
// The store's operations side: oldest ages, attempts history, filtered failures, bulk replay with
// audit, rejected replay, daemon state, opening an existing file only, and migration from v3.
#include "store_fixture.hpp"

namespace kyc_bridge::store::testing {
namespace {

using namespace std::chrono_literals;

core::Error Conflict() {
    core::Error error = core::Error::Permanent("409", "conflict");
    error.kind = core::ErrorKind::kConflict;
    return error;
}

AuditContext Ops(const std::string& reason) { return {"replay", reason, "alice", "ops-host"}; }

std::int64_t FirstDueJob(Store& store, core::TimePoint now) {
    auto due = store.DueJobs(now, 10, {});
    EXPECT_TRUE(due.ok() && !due->empty());
    return due.ok() && !due->empty() ? (*due)[0].job_id : 0;
}

TEST_F(StoreTest, OldestPendingAndUnsentAgesAreTheOldestCreatedAt) {
    EXPECT_FALSE(store_->OldestPendingCreatedAtMs()->has_value());
    EXPECT_FALSE(store_->OldestUnsentOutboxCreatedAtMs()->has_value());
    const auto first = NowMs();
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    clock_.Advance(5s);
    ASSERT_TRUE(store_->Ingest({Accepted("e2", "c2")}, {}).ok());
    EXPECT_EQ(store_->OldestPendingCreatedAtMs()->value_or(-1), first);

    auto job = FirstDueJob(*store_, clock_.Now());
    ASSERT_TRUE(Sync(*store_).CompleteJob(job, "c1", Outbound("o1", "c1")).ok());
    EXPECT_EQ(store_->OldestPendingCreatedAtMs()->value_or(-1), first + 5000);
    EXPECT_EQ(store_->OldestUnsentOutboxCreatedAtMs()->value_or(-1), first + 5000);
    auto rows = store_->PendingOutbox(0, 10);
    ASSERT_TRUE(store_->SetAsideOutbox((*rows)[0].seq, "too large").ok());
    EXPECT_FALSE(store_->OldestUnsentOutboxCreatedAtMs()->has_value()) << "set-aside excluded";
}

TEST_F(StoreTest, EveryFailedAttemptIsKeptInOrderWithTheJobDetail) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    auto job = FirstDueJob(*store_, clock_.Now());
    ASSERT_TRUE(Sync(*store_).RecordUser(job, "c1", "auth0|c1", "created").ok());
    ASSERT_TRUE(Sync(*store_)
                    .RescheduleJob(job, 1, clock_.Now(),
                                   core::Error::Transient("HTTP 503 from Auth0", "http_503"))
                    .ok());
    clock_.Advance(1s);
    ASSERT_TRUE(
        Sync(*store_).FailJob(job, 2, core::Error::Permanent("Payload validation", "400")).ok());

    auto detail = store_->LoadJobDetail(job);
    ASSERT_TRUE(detail.ok() && detail->has_value());
    const auto& d = **detail;
    EXPECT_EQ(d.job.state, "failed");
    EXPECT_EQ(d.job.last_error_kind, "permanent");
    ASSERT_TRUE(d.account.has_value());
    EXPECT_EQ(d.account->auth0_user_id, "auth0|c1");
    ASSERT_EQ(d.attempts.size(), 2u);
    EXPECT_EQ(d.attempts[0].attempt, 1);
    EXPECT_EQ(d.attempts[0].kind, "transient");
    EXPECT_EQ(d.attempts[0].code, "http_503");
    EXPECT_EQ(d.attempts[1].kind, "permanent");
    EXPECT_EQ(d.attempts[1].message, "Payload validation");
    EXPECT_FALSE(store_->LoadJobDetail(999)->has_value());
}

TEST_F(StoreTest, FailedJobsAreFilteredByClassCustomerAndTime) {
    ASSERT_TRUE(
        store_->Ingest({Accepted("e1", "c1"), Accepted("e2", "c2"), Accepted("e3", "c3")}, {})
            .ok());
    auto due = *store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_EQ(due.size(), 3u);
    ASSERT_TRUE(Sync(*store_).FailJob(due[0].job_id, 1, core::Error::Permanent("bad")).ok());
    clock_.Advance(2h);
    const auto later = NowMs();
    ASSERT_TRUE(Sync(*store_).FailJob(due[1].job_id, 1, Conflict()).ok());
    ASSERT_TRUE(Sync(*store_).FailJob(due[2].job_id, 1, core::Error::Permanent("bad")).ok());

    EXPECT_EQ(store_->ListFailedJobs({})->size(), 3u);
    EXPECT_EQ(store_->ListFailedJobs({0, "permanent", "", 100})->size(), 2u);
    EXPECT_EQ(store_->ListFailedJobs({later, "permanent", "", 100})->size(), 1u);
    auto c2 = *store_->ListFailedJobs({0, "", "c2", 100});
    ASSERT_EQ(c2.size(), 1u);
    EXPECT_EQ(c2[0].last_error_kind, "conflict");

    auto errors = *store_->LastErrorsByKind();
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_EQ(errors[0].kind, "conflict");
    EXPECT_EQ(errors[1].kind, "permanent");
    EXPECT_EQ(errors[1].job_id, due[2].job_id) << "the most recent of its class";
}

TEST_F(StoreTest, ReplayJobsSpreadsDueTimesResetsBudgetsAndAuditsEachJob) {
    ASSERT_TRUE(
        store_->Ingest({Accepted("e1", "c1"), Accepted("e2", "c2"), Accepted("e3", "c3")}, {})
            .ok());
    auto due = *store_->DueJobs(clock_.Now(), 10, {});
    for (const auto& job : due) {
        ASSERT_TRUE(Sync(*store_).FailJob(job.job_id, 7, Conflict()).ok());
    }
    ASSERT_TRUE(store_->Ingest({Accepted("e4", "c1")}, {}).ok());  // queued behind the replay
    clock_.Advance(1h);
    const auto now = NowMs();
    auto replayed = store_->ReplayJobs({due[0].job_id, due[1].job_id, due[2].job_id, 999}, 500ms,
                                       Ops("fixed the tenant"));
    ASSERT_TRUE(replayed.ok());
    EXPECT_EQ(replayed->size(), 3u) << "999 is unknown: skipped";

    auto runnable = *store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_EQ(runnable.size(), 1u) << "only the first is due now";
    EXPECT_EQ(runnable[0].job_id, due[0].job_id) << "the replayed job is its customer's head";
    EXPECT_EQ(runnable[0].attempts, 0);
    EXPECT_EQ(runnable[0].conflict_attempts, 0);
    EXPECT_EQ(store_->NextDueTime()->value(), core::FromUnixMillis(now));
    clock_.Advance(1s);
    EXPECT_EQ(store_->DueJobs(clock_.Now(), 10, {})->size(), 3u);

    auto audit = *store_->ListAudit(0, 100);
    ASSERT_EQ(audit.size(), 3u);
    EXPECT_EQ(audit[0].job_id.value_or(0), due[0].job_id);
    EXPECT_EQ(audit[0].reason, "fixed the tenant");
    EXPECT_EQ(audit[0].os_user, "alice");
    EXPECT_EQ(audit[0].host, "ops-host");
    EXPECT_EQ(audit[0].at_ms, now);
    EXPECT_TRUE(store_->ListAudit(now + 1, 100)->empty());
    EXPECT_TRUE(store_->ReplayJobs({due[0].job_id}, 0ms, Ops("again"))->empty()) << "pending now";
}

TEST_F(StoreTest, ARejectedEventReplayedIsIngestedOnceAndAudited) {
    RejectedEvent poison{Origin{"customer.kyc_verified", 1, 9}, "schema: bad locale",
                         Outbound("dlq-1", "c9"), {}};
    poison.dead_letter.payload = R"({"event_id":"e9","customer_id":"c9"})";
    ASSERT_TRUE(store_->Ingest({}, {poison}).ok());
    auto listed = *store_->ListRejected(10);
    ASSERT_EQ(listed.size(), 1u);
    auto row = *store_->LoadRejected(listed[0].id);
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(row->payload, poison.dead_letter.payload);
    EXPECT_FALSE(row->truncated);
    EXPECT_EQ(row->summary.origin.offset, 9);

    AuditContext audit{"rejected replay", "validator fixed", "bob", "h"};
    auto event = Accepted("e9", "c9");
    EXPECT_TRUE(*store_->IngestReplayed(event, listed[0].id, audit));
    EXPECT_FALSE(*store_->IngestReplayed(event, listed[0].id, audit)) << "event_id dedup";
    EXPECT_EQ(store_->DueJobs(clock_.Now(), 10, {})->size(), 1u);
    auto trail = *store_->ListAudit(0, 10);
    ASSERT_EQ(trail.size(), 2u);
    EXPECT_EQ(trail[0].event_ref, "rejected:" + std::to_string(listed[0].id));
    EXPECT_TRUE(trail[0].job_id.has_value());
    EXPECT_FALSE(trail[1].job_id.has_value());
    EXPECT_FALSE(store_->LoadRejected(12345)->has_value());
}

TEST_F(StoreTest, DaemonStateIsUnknownUntilWrittenThenTheLatestValue) {
    EXPECT_FALSE(store_->GetDaemonState("quarantine")->has_value());
    ASSERT_TRUE(store_->SetDaemonState("quarantine", "unauthorized: 401 from /oauth/token").ok());
    clock_.Advance(3s);
    ASSERT_TRUE(Wait([&](auto done) { store_->SetDaemonState("quarantine", "", done); }).ok());
    auto state = *store_->GetDaemonState("quarantine");
    ASSERT_TRUE(state.has_value());
    EXPECT_EQ(state->value, "");
    EXPECT_EQ(state->updated_at_ms, NowMs());
}

TEST_F(StoreTest, OpenExistingRefusesAMissingFileAndCreatesNothing) {
    const auto missing = (dir_ / "nope" / "typo.db").string();
    StoreOptions options;
    options.open = StoreOptions::Open::kOpenExisting;
    EXPECT_THROW(Store(missing, 1s, clock_, options), StoreError);
    EXPECT_FALSE(std::filesystem::exists(dir_ / "nope"));
    EXPECT_NO_THROW(Store(path_, 1s, clock_, options)) << "the existing file opens";
}

TEST_F(StoreTest, MigrationFromVersion3KeepsJobsAndAddsTheOpsTables) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    auto job = FirstDueJob(*store_, clock_.Now());
    ASSERT_TRUE(Sync(*store_).FailJob(job, 3, core::Error::Permanent("bad")).ok());
    store_.reset();
    {
        // Back to what a v3 build left: no ops tables, user_version 3.
        auto raw = OpenRaw(path_);
        ASSERT_EQ(
            sqlite3_exec(raw.get(),
                         "DROP INDEX inbox_not_erased; DROP INDEX outbox_unsent_by_source; "
                         "ALTER TABLE inbox DROP COLUMN payload_sha256; "
                         "ALTER TABLE inbox DROP COLUMN erased_at_ms; "
                         "ALTER TABLE outbox DROP COLUMN source_event_id; "
                         "ALTER TABLE outbox DROP COLUMN erase_when_sent; "
                         "ALTER TABLE rejected DROP COLUMN erased_at_ms; "
                         "DROP TABLE job_attempts; DROP TABLE audit; DROP TABLE daemon_state; "
                         "DROP INDEX jobs_state_updated; DROP INDEX jobs_state_created; "
                         "DROP INDEX outbox_unsent_created; PRAGMA user_version = 3",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
    }
    store_ = Open();
    auto failed = *store_->ListFailedJobs({});
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].attempts, 3);
    EXPECT_TRUE(store_->LoadJobDetail(job)->value().attempts.empty()) << "no history before v4";
    EXPECT_EQ(store_->ReplayJobs({job}, 0ms, Ops("after upgrade"))->size(), 1u);
    EXPECT_EQ(store_->ListAudit(0, 10)->size(), 1u);
}

}  // namespace
}  // namespace kyc_bridge::store::testing
