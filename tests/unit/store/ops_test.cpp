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
    store_.reset();
    std::filesystem::remove(path_);
    std::filesystem::remove(path_ + "-wal");
    std::filesystem::remove(path_ + "-shm");
    // What a v3 build left: a failed job, no ops tables, user_version 3.
    CreateStoreAtSchemaVersion(path_, 3);
    {
        auto raw = OpenRaw(path_);
        const auto payload = events::ToJson(Event("e1", "c1"));
        sqlite3_stmt* stmt = nullptr;
        sqlite3_prepare_v2(raw.get(),
                           "INSERT INTO inbox (event_id, customer_id, topic, partition, offset, "
                           "payload, received_at_ms) VALUES ('e1', 'c1', 't', 0, 0, ?, 1)",
                           -1, &stmt, nullptr);
        sqlite3_bind_text(stmt, 1, payload.c_str(), -1, SQLITE_TRANSIENT);
        ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE);
        sqlite3_finalize(stmt);
        ASSERT_EQ(sqlite3_exec(raw.get(),
                               "INSERT INTO jobs (event_id, customer_id, state, attempts, "
                               "next_attempt_at_ms, last_error, last_error_kind, created_at_ms, "
                               "updated_at_ms) VALUES ('e1', 'c1', 'failed', 3, 1, 'bad', "
                               "'permanent', 1, 1)",
                               nullptr, nullptr, nullptr),
                  SQLITE_OK);
    }
    store_ = Open();
    auto failed = *store_->ListFailedJobs({});
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].attempts, 3);
    const auto job = failed[0].job_id;
    EXPECT_TRUE(store_->LoadJobDetail(job)->value().attempts.empty()) << "no history before v4";
    EXPECT_EQ(store_->ReplayJobs({job}, 0ms, Ops("after upgrade"))->size(), 1u);
    EXPECT_EQ(store_->ListAudit(0, 10)->size(), 1u);
}

// Issue #11: a store made by every earlier schema version opens and migrates to the current one.
TEST_F(StoreTest, AStoreOfEveryEarlierSchemaVersionMigrates) {
    store_.reset();
    for (int version = 1; version < CurrentSchemaVersion(); ++version) {
        const auto path = (dir_ / ("v" + std::to_string(version) + ".db")).string();
        CreateStoreAtSchemaVersion(path, version);
        auto store = std::make_unique<Store>(path, 5s, clock_);
        ASSERT_TRUE(store->Ingest({Accepted("e1", "c1")}, {}).ok()) << "from v" << version;
        EXPECT_EQ(store->ListJobs("", 10)->size(), 1u) << "from v" << version;
        store.reset();
        auto raw = OpenRaw(path);
        sqlite3_stmt* stmt = nullptr;
        sqlite3_prepare_v2(raw.get(), "PRAGMA user_version", -1, &stmt, nullptr);
        ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
        EXPECT_EQ(sqlite3_column_int(stmt, 0), CurrentSchemaVersion()) << "from v" << version;
        sqlite3_finalize(stmt);
    }
}

// A newer store never opens in an older binary: no silent downgrade.
TEST_F(StoreTest, AStoreFromANewerBuildIsRefused) {
    store_.reset();
    {
        auto raw = OpenRaw(path_);
        const auto bump = "PRAGMA user_version = " + std::to_string(CurrentSchemaVersion() + 1);
        ASSERT_EQ(sqlite3_exec(raw.get(), bump.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    }
    try {
        Open();
        ADD_FAILURE() << "a store of a newer schema opened";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("newer than this build knows"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace kyc_bridge::store::testing
