// SPDX-License-Identifier: Apache-2.0
// The file itself: reopening, a second connection (the CLI), SQLITE_BUSY, opening failures.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "kyc_bridge/store/store.hpp"
#include "store_fixture.hpp"

namespace kyc_bridge::store::testing {
namespace {

using namespace std::chrono_literals;

std::string Pragma(const std::string& path, const std::string& name) {
    auto db = OpenRaw(path);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db.get(), ("PRAGMA " + name).c_str(), -1, &stmt, nullptr);
    std::string value;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return value;
}

TEST_F(StoreTest, CreatesTheDirectoryAndUsesWal) {
    EXPECT_TRUE(std::filesystem::exists(path_));
    EXPECT_EQ(Pragma(path_, "journal_mode"), "wal");
    EXPECT_EQ(Pragma(path_, "user_version"), std::to_string(CurrentSchemaVersion()));
}

TEST_F(StoreTest, ReopeningTheFileKeepsEverything) {
    ASSERT_TRUE(
        store_
            ->Ingest({Accepted("e1", "c1"), Accepted("e2", "c1")},
                     {RejectedEvent{Origin{"t", 0, 9}, "not_json: x", Outbound("dl-9", ""), {}}})
            .ok());
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok() && due->size() == 1u);
    ASSERT_TRUE(Sync(*store_).RecordUser((*due)[0].job_id, "c1", "auth0|c1", "created").ok());
    ASSERT_TRUE(Sync(*store_).CompleteJob((*due)[0].job_id, "c1", Outbound("uc-c1", "c1")).ok());
    store_.reset();

    store_ = Open();
    auto again = store_->Ingest({Accepted("e1", "c1")}, {});  // redelivered after a restart
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->duplicates, 1);
    auto next = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(next.ok() && next->size() == 1u);
    EXPECT_EQ((*next)[0].event.event_id, "e2");
    EXPECT_TRUE((*store_->LoadAccount("c1"))->published);
    EXPECT_EQ(*store_->CountUnsentOutbox(), 2);
    EXPECT_EQ(store_->ListRejected(10)->size(), 1u);
}

TEST_F(StoreTest, ASecondStoreReadsWhileTheFirstWrites) {
    auto cli = Open();
    std::atomic<bool> done{false};
    std::thread writer([&] {
        for (int i = 0; i < 200; ++i) {
            auto id = std::to_string(i);
            auto ingested = store_->Ingest({Accepted("e" + id, "c" + id)}, {});
            EXPECT_TRUE(ingested.ok()) << ingested.error().message;
        }
        done = true;
    });
    int reads = 0;
    while (!done) {
        auto jobs = cli->ListJobs("pending", 1000);
        ASSERT_TRUE(jobs.ok()) << jobs.error().message;
        ++reads;
    }
    writer.join();
    EXPECT_GT(reads, 0);
    EXPECT_EQ(cli->ListJobs("pending", 1000)->size(), 200u);
}

TEST_F(StoreTest, AnotherWritersLockIsATransientError) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    store_ = Open(10ms);
    auto other = OpenRaw(path_);
    ASSERT_EQ(sqlite3_exec(other.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

    auto ingested = store_->Ingest({Accepted("e2", "c2")}, {});
    ASSERT_FALSE(ingested.ok());
    EXPECT_EQ(ingested.error().kind, core::ErrorKind::kTransient);
    EXPECT_EQ(ingested.error().code, "sqlite_busy");
    EXPECT_NE(ingested.error().message.find("store: ingest: "), std::string::npos);
    EXPECT_NE(ingested.error().message.find("(extended code 5)"), std::string::npos);
    auto recorded = Sync(*store_).RecordRolesAssigned("c1");
    ASSERT_FALSE(recorded.ok());
    EXPECT_EQ(recorded.error().kind, core::ErrorKind::kTransient);
    EXPECT_TRUE(store_->DueJobs(clock_.Now(), 10, {}).ok());  // readers go on (WAL)

    ASSERT_EQ(sqlite3_exec(other.get(), "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    auto retried = store_->Ingest({Accepted("e2", "c2")}, {});
    ASSERT_TRUE(retried.ok()) << retried.error().message;
    EXPECT_EQ(retried->accepted, 1);  // the failed attempt left nothing behind
}

TEST_F(StoreTest, OpeningAnUnusablePathThrowsNamingIt) {
    auto blocker = dir_ / "a-file";
    std::ofstream(blocker) << "x";
    auto bad = (blocker / "kyc-bridge.db").string();
    try {
        Store store(bad, 1s, clock_);
        FAIL() << "expected StoreError";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
}

TEST_F(StoreTest, RefusesAFileFromANewerSchema) {
    store_.reset();
    auto raw = OpenRaw(path_);
    ASSERT_EQ(sqlite3_exec(raw.get(), "PRAGMA user_version = 99", nullptr, nullptr, nullptr),
              SQLITE_OK);
    raw.reset();
    try {
        Open();
        FAIL() << "expected StoreError";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
    }
}

TEST_F(StoreTest, NotAnSqliteFileThrows) {
    store_.reset();
    std::filesystem::remove(path_);
    std::filesystem::remove(path_ + "-wal");
    std::filesystem::remove(path_ + "-shm");
    std::ofstream(path_) << std::string(4096, 'z');
    EXPECT_THROW(Open(), StoreError);
}

}  // namespace
}  // namespace kyc_bridge::store::testing
