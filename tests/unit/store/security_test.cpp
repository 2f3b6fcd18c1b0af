// SPDX-License-Identifier: Apache-2.0
// Issue #9 in the store: file modes, event_id conflicts, personal data kept only as long as
// needed, purge, and the SQLite errors no retry heals.
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>

#include "store_fixture.hpp"
#include "store_text.hpp"

namespace kyc_bridge::store::testing {
namespace {

using namespace std::chrono_literals;

unsigned ModeOf(const std::string& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
    return info.st_mode & 07777;
}

/// What the inbox holds for an event: its payload and whether it was erased.
std::pair<std::string, bool> InboxRow(const std::string& path, const std::string& event_id) {
    auto db = OpenRaw(path);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db.get(), "SELECT payload, erased_at_ms IS NOT NULL FROM inbox WHERE event_id = ?",
                       -1, &stmt, nullptr);
    sqlite3_bind_text(stmt, 1, event_id.c_str(), -1, SQLITE_TRANSIENT);
    std::pair<std::string, bool> row{"<no row>", false};
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        row = {reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
               sqlite3_column_int(stmt, 1) != 0};
    }
    sqlite3_finalize(stmt);
    return row;
}

/// Every text cell of the file, for "no personal data left anywhere" checks.
std::int64_t DueJob(Store& store, core::TimePoint now) {
    auto due = store.DueJobs(now, 10, {});
    EXPECT_TRUE(due.ok() && !due->empty());
    return due.ok() && !due->empty() ? (*due)[0].job_id : 0;
}

std::int64_t Erase(Store& store, std::int64_t before_ms) {
    std::int64_t erased = -1;
    auto status = Wait([&](auto done) {
        store.ErasePersonalData(before_ms, 100, [&erased, done](core::Result<std::int64_t> n) {
            if (n) erased = *n;
            done(n ? core::Status{} : core::Status{n.error()});
        });
    });
    EXPECT_TRUE(status.ok());
    return erased;
}

TEST_F(StoreTest, TheFileItsWalAndShmAreOwnerOnlyAndANewDirectoryIs0700) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());  // the WAL exists now
    EXPECT_EQ(ModeOf(path_), 0600u);
    EXPECT_EQ(ModeOf(path_ + "-wal"), 0600u);
    EXPECT_EQ(ModeOf(path_ + "-shm"), 0600u);
    EXPECT_EQ(ModeOf((dir_ / "state").string()), 0700u);
}

TEST_F(StoreTest, AGroupReadableStoreIsRefusedWithStrictModesAndOpenedOtherwise) {
    store_.reset();
    ::chmod(path_.c_str(), 0644);
    StoreOptions strict;
    strict.strict_modes = true;
    try {
        Open(5s, strict);
        ADD_FAILURE() << "a 0644 store opened with strict_modes";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("has mode 0644"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(store_ = Open());  // only warned of
}

TEST_F(StoreTest, AnEventIdReusedWithAnotherPayloadIsRejectedNotDroppedAsADuplicate) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    auto same = Accepted("e1", "c1");
    auto summary = store_->Ingest({same}, {});
    ASSERT_TRUE(summary.ok());
    EXPECT_EQ(summary->duplicates, 1);
    EXPECT_EQ(summary->conflicts, 0);

    auto other = Accepted("e1", "c1", 7);
    other.event.email = "someone.else@example.com";
    std::string reason_seen;
    other.on_conflict = [&](const std::string& reason) {
        reason_seen = reason;
        auto letter = Outbound("dl-e1-7", "c1");
        letter.topic = "customer.kyc_verified.dlq";
        return RejectedEvent{other.origin, reason, letter, "{\"raw\":1}"};
    };
    summary = store_->Ingest({other}, {});
    ASSERT_TRUE(summary.ok());
    EXPECT_EQ(summary->conflicts, 1);
    EXPECT_EQ(summary->duplicates, 0);
    EXPECT_EQ(summary->accepted, 0);
    EXPECT_EQ(summary->rejected, 1);
    EXPECT_EQ(reason_seen.rfind("event_id_conflict", 0), 0u);
    auto rejected = store_->ListRejected(10);
    ASSERT_EQ(rejected->size(), 1u);
    EXPECT_EQ((*rejected)[0].reason.rfind("event_id_conflict", 0), 0u);
    EXPECT_EQ(store_->CountUnsentOutbox().value(), 1);  // its dead letter
    EXPECT_EQ(store_->ListJobs("", 10)->size(), 1u);    // no second job
}

TEST_F(StoreTest, ADoneJobsPersonalFieldsAreErasedOnlyOnceItsEventIsSent) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    auto job = DueJob(*store_, clock_.Now());
    ASSERT_TRUE(Sync(*store_).RecordUser(job, "c1", "auth0|c1", "created").ok());
    ASSERT_TRUE(Sync(*store_).CompleteJob(job, "c1", Outbound("out-1", "c1")).ok());
    clock_.Advance(1s);
    EXPECT_EQ(Erase(*store_, NowMs()), 0) << "its auth.user_created is not sent yet";
    EXPECT_NE(InboxRow(path_, "e1").first.find("c1@example.com"), std::string::npos);

    auto pending = store_->PendingOutbox(0, 10);
    ASSERT_EQ(pending->size(), 1u);
    ASSERT_TRUE(store_->MarkSent((*pending)[0].seq).ok());
    EXPECT_EQ(Erase(*store_, NowMs() - 60'000), 0) << "keep_personal_data_s not over yet";
    EXPECT_EQ(Erase(*store_, NowMs()), 1);
    auto [payload, erased] = InboxRow(path_, "e1");
    EXPECT_EQ(payload, "");
    EXPECT_TRUE(erased);
    auto all = kyc_bridge::testing::AllStoreText(path_);
    EXPECT_EQ(all.find("c1@example.com"), std::string::npos);
    EXPECT_EQ(all.find("Jane"), std::string::npos);
    EXPECT_NE(all.find("auth0|c1"), std::string::npos) << "the ids and steps stay";
    EXPECT_EQ(store_->LoadAccount("c1")->value().auth0_user_id, "auth0|c1");

    // The event_id still deduplicates after the erasure, and the hash still tells a conflict.
    EXPECT_EQ(store_->Ingest({Accepted("e1", "c1")}, {})->duplicates, 1);
    auto other = Accepted("e1", "c1");
    other.event.email = "x@example.com";
    EXPECT_EQ(store_->Ingest({other}, {})->conflicts, 1);
}

TEST_F(StoreTest, ADeadLettersCopyOfThePoisonEventGoesOnceSent) {
    auto letter = Outbound("dl-1", "c9");
    letter.topic = "customer.kyc_verified.dlq";
    letter.payload = R"({"email":"poison@example.com"})";
    ASSERT_TRUE(store_->Ingest({}, {RejectedEvent{Origin{"t", 0, 1}, "not_json: x", letter,
                                                  letter.payload}})
                    .ok());
    auto pending = store_->PendingOutbox(0, 10);
    ASSERT_EQ(pending->size(), 1u);
    EXPECT_EQ((*pending)[0].event.payload, letter.payload);
    ASSERT_TRUE(store_->MarkSent((*pending)[0].seq).ok());
    auto all = kyc_bridge::testing::AllStoreText(path_);
    // Only the rejected row keeps it, until a replay or purge.
    EXPECT_EQ(all.find("poison@example.com"), all.rfind("poison@example.com"));
}

TEST_F(StoreTest, PurgeErasesOldRejectedAndFailedJobsAuditedAndADryRunOnlyCounts) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")},
                               {RejectedEvent{Origin{"t", 0, 1}, "not_json: x", Outbound("dl", "k"),
                                              R"({"email":"old@example.com"})"}})
                    .ok());
    auto job = DueJob(*store_, clock_.Now());
    ASSERT_TRUE(Sync(*store_).FailJob(job, 12, core::Error::Transient("down")).ok());
    clock_.Advance(48h);
    ASSERT_TRUE(store_->Ingest({Accepted("e2", "c2")},
                               {RejectedEvent{Origin{"t", 0, 2}, "not_json: y", Outbound("dl2", "k"),
                                              R"({"email":"new@example.com"})"}})
                    .ok());
    const auto cutoff = NowMs() - 24 * 3600 * 1000;
    AuditContext audit{"purge", "--older-than 24h", "alice", "ops-host"};

    auto dry = store_->Purge(cutoff, true, audit);
    ASSERT_TRUE(dry.ok());
    EXPECT_EQ(dry->rejected, 1);
    EXPECT_EQ(dry->failed_jobs, 1);
    EXPECT_NE(kyc_bridge::testing::AllStoreText(path_).find("old@example.com"), std::string::npos) << "dry run";
    EXPECT_TRUE(store_->ListAudit(0, 10)->empty());

    auto done = store_->Purge(cutoff, false, audit);
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(done->rejected, 1);
    EXPECT_EQ(done->failed_jobs, 1);
    auto all = kyc_bridge::testing::AllStoreText(path_);
    EXPECT_EQ(all.find("old@example.com"), std::string::npos);
    EXPECT_EQ(all.find("c1@example.com"), std::string::npos);
    EXPECT_NE(all.find("new@example.com"), std::string::npos) << "younger than the cut-off";
    EXPECT_NE(all.find("c2@example.com"), std::string::npos);
    auto trail = store_->ListAudit(0, 10);
    ASSERT_EQ(trail->size(), 1u);
    EXPECT_EQ((*trail)[0].action, "purge");
    EXPECT_NE((*trail)[0].reason.find("erased 1 rejected, 1 failed jobs"), std::string::npos);
    // A purged job has nothing left to run with: it is not replayed.
    EXPECT_TRUE(store_->ReplayJobs({job}, 0ms, audit)->empty());
    EXPECT_EQ(store_->Purge(cutoff, false, audit)->rejected, 0) << "idempotent";
}

TEST(StoreErrors, CodesNoRetryHealsAreTold) {
    EXPECT_TRUE(IsUnrecoverable(SQLITE_CORRUPT));
    EXPECT_TRUE(IsUnrecoverable(SQLITE_NOTADB));
    EXPECT_TRUE(IsUnrecoverable(SQLITE_READONLY_DBMOVED));
    EXPECT_TRUE(IsUnrecoverable(SQLITE_CONSTRAINT_UNIQUE));
    EXPECT_FALSE(IsUnrecoverable(SQLITE_BUSY));
    EXPECT_FALSE(IsUnrecoverable(SQLITE_IOERR_FSYNC));
    EXPECT_FALSE(IsUnrecoverable(SQLITE_FULL)) << "only after many commits in a row";
    EXPECT_NE(HintForSqliteCode(SQLITE_READONLY).find("writable"), std::string::npos);
}

TEST_F(StoreTest, ACorruptedFileStopsTheStoreForGood) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    store_.reset();
    {
        // Garbage over every page but the header: the next read finds a malformed tree.
        std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(4096);
        std::string junk(64 * 1024, '\x5a');
        file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    std::remove((path_ + "-wal").c_str());
    std::remove((path_ + "-shm").c_str());
    std::unique_ptr<Store> store;
    try {
        store = Open();
    } catch (const StoreError&) {
        SUCCEED() << "refused at open: as good";
        return;
    }
    auto result = store->Ingest({Accepted("e2", "c2")}, {});
    EXPECT_FALSE(result.ok());
    auto due = store->DueJobs(clock_.Now(), 10, {});
    EXPECT_NE(store->stats().unrecoverable_code.load() & 0xff, 0);
    EXPECT_EQ(store->stats().unrecoverable_code.load() & 0xff, SQLITE_CORRUPT);
}

}  // namespace
}  // namespace kyc_bridge::store::testing
