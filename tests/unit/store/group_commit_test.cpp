// SPDX-License-Identifier: Apache-2.0
// The group-commit writer: many writes per transaction, all-or-nothing on a SQLite failure,
// acknowledged only once durable, logical failures isolated, drained on shutdown; and reads
// that never wait behind a write transaction.
#include <gtest/gtest.h>

#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "kyc_bridge/store/store.hpp"
#include "store_fixture.hpp"

namespace kyc_bridge::store::testing {
namespace {

using namespace std::chrono_literals;

/// Collects the statuses of queued writes; Wait() returns once `expected` have arrived.
class Completions {
public:
    explicit Completions(std::size_t expected) : expected_(expected) {}
    core::Callback<void> Callback() {
        return [this](core::Status status) {
            std::lock_guard lock(mutex_);
            statuses_.push_back(std::move(status));
            if (statuses_.size() == expected_) all_.set_value();
        };
    }
    /// The statuses in arrival order; empty if they did not all arrive within 10 s.
    std::vector<core::Status> Wait() {
        if (all_.get_future().wait_for(10s) != std::future_status::ready) return {};
        std::lock_guard lock(mutex_);
        return statuses_;
    }

private:
    std::size_t expected_;
    std::mutex mutex_;
    std::vector<core::Status> statuses_;
    std::promise<void> all_;
};

class GroupCommit : public StoreTest {
protected:
    /// A store whose transactions wait long for company, so that a batch forms only by
    /// reaching `max_records`: the tests do not depend on timing.
    void Reopen(std::size_t max_records) {
        store_.reset();
        store_ = Open(5s, StoreOptions{std::chrono::seconds{5}, max_records});
    }
    bool RolesAssigned(const std::string& customer_id) {
        auto account = store_->LoadAccount(customer_id);
        return account.ok() && account->has_value() && (*account)->roles_assigned;
    }
};

TEST_F(GroupCommit, RecordsOfManyJobsShareOneTransaction) {
    Reopen(64);
    constexpr int kThreads = 8;
    constexpr int kPerThread = 8;
    Completions completions(kThreads * kPerThread);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < kPerThread; ++i) {
                auto customer = "c" + std::to_string(t * kPerThread + i);
                store_->RecordRolesAssigned(customer, completions.Callback());
            }
        });
    }
    for (auto& thread : threads) thread.join();
    auto statuses = completions.Wait();
    ASSERT_EQ(statuses.size(), 64u);
    for (const auto& status : statuses) EXPECT_TRUE(status.ok());
    EXPECT_EQ(store_->stats().transactions_committed.load(), 1u);
    EXPECT_EQ(store_->stats().records_committed.load(), 64u);
    EXPECT_EQ(store_->stats().max_records_per_transaction.load(), 64u);
    EXPECT_GT(store_->stats().commit_micros_total.load(), 0u);
    for (int c = 0; c < 64; ++c) EXPECT_TRUE(RolesAssigned("c" + std::to_string(c))) << c;
}

TEST_F(GroupCommit, FailedCommitFailsEveryWaiter) {
    Reopen(4);
    // Another connection adds a deferred foreign key that one write violates: SQLite checks it
    // only at COMMIT, which then fails (https://www.sqlite.org/foreignkeys.html#fk_deferred).
    auto raw = OpenRaw(path_);
    ASSERT_EQ(sqlite3_exec(raw.get(), R"sql(
CREATE TABLE test_parent (id INTEGER PRIMARY KEY);
CREATE TABLE test_child (parent INTEGER REFERENCES test_parent(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TRIGGER test_poison AFTER INSERT ON accounts WHEN NEW.customer_id = 'poison'
BEGIN INSERT INTO test_child VALUES (42); END;)sql",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);

    Completions completions(4);
    for (const char* customer : {"c1", "c2", "poison", "c3"}) {
        store_->RecordRolesAssigned(customer, completions.Callback());
    }
    auto statuses = completions.Wait();
    ASSERT_EQ(statuses.size(), 4u);
    for (const auto& status : statuses) {
        ASSERT_FALSE(status.ok());
        EXPECT_EQ(status.error().kind, core::ErrorKind::kTransient);
        EXPECT_NE(status.error().message.find("store: record roles assigned: "), std::string::npos);
    }
    EXPECT_EQ(store_->stats().commit_failures.load(), 1u);
    EXPECT_EQ(store_->stats().transactions_committed.load(), 0u);
    for (const char* customer : {"c1", "c2", "poison", "c3"}) EXPECT_FALSE(RolesAssigned(customer));

    // The failed transaction was rolled back: the writer goes on.
    ASSERT_EQ(sqlite3_exec(raw.get(), "DROP TRIGGER test_poison", nullptr, nullptr, nullptr),
              SQLITE_OK);
    Reopen(1);
    ASSERT_TRUE(Sync(*store_).RecordRolesAssigned("c1").ok());
    EXPECT_TRUE(RolesAssigned("c1"));
}

TEST_F(GroupCommit, NothingIsAcknowledgedBeforeItIsDurable) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    auto job_id = (*store_->DueJobs(clock_.Now(), 10, {}))[0].job_id;
    Reopen(5);
    // Each callback looks from a connection of its own, as a restarted process would.
    auto visible = [this](const std::string& sql) {
        auto db = OpenRaw(path_);
        sqlite3_stmt* stmt = nullptr;
        sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &stmt, nullptr);
        bool found = sqlite3_step(stmt) == SQLITE_ROW;
        sqlite3_finalize(stmt);
        return found;
    };
    std::mutex mutex;
    std::vector<bool> seen;
    Completions completions(5);
    auto check = [&](std::string sql) {
        return [&, sql, done = completions.Callback()](core::Status status) {
            {
                std::lock_guard lock(mutex);
                seen.push_back(status.ok() && visible(sql));
            }
            done(std::move(status));
        };
    };
    for (const char* customer : {"c2", "c3", "c4"}) {
        store_->RecordRolesAssigned(
            customer, check(std::string("SELECT 1 FROM accounts WHERE roles_assigned = 1 AND "
                                        "customer_id = '") +
                            customer + "'"));
    }
    store_->RecordPasswordEmailSending(
        "c1", check("SELECT 1 FROM accounts WHERE customer_id = 'c1' AND password_email_sending"));
    store_->CompleteJob(job_id, "c1", Outbound("uc-c1", "c1"),
                        check("SELECT 1 FROM outbox WHERE event_id = 'uc-c1'"));
    ASSERT_EQ(completions.Wait().size(), 5u);
    EXPECT_EQ(seen, std::vector<bool>(5, true));
    EXPECT_EQ(store_->stats().transactions_committed.load(), 1u);
}

TEST_F(GroupCommit, OneOpsFailureDoesNotFailItsNeighbours) {
    ASSERT_TRUE(
        store_->Ingest({Accepted("e1", "c1"), Accepted("e2", "c2"), Accepted("e3", "c3")}, {})
            .ok());
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    ASSERT_TRUE(due.ok() && due->size() == 3u);
    ASSERT_TRUE(Sync(*store_).FailJob((*due)[1].job_id, 1, core::Error::Permanent("x")).ok());
    Reopen(3);

    Completions completions(3);
    for (const auto& job : *due) {
        const auto& id = job.event.customer_id;
        store_->CompleteJob(job.job_id, id, Outbound("uc-" + id, id), completions.Callback());
    }
    auto statuses = completions.Wait();
    ASSERT_EQ(statuses.size(), 3u);  // in queue order: one transaction, callbacks in turn
    EXPECT_TRUE(statuses[0].ok());
    ASSERT_FALSE(statuses[1].ok());
    EXPECT_EQ(statuses[1].error().kind, core::ErrorKind::kPermanent);
    EXPECT_TRUE(statuses[2].ok());
    EXPECT_EQ(store_->stats().transactions_committed.load(), 1u);
    EXPECT_EQ(store_->stats().records_committed.load(), 2u);

    auto outbox = store_->PendingOutbox(0, 10);
    ASSERT_TRUE(outbox.ok());
    ASSERT_EQ(outbox->size(), 2u);
    EXPECT_EQ((*outbox)[0].event.event_id, "uc-c1");
    EXPECT_EQ((*outbox)[1].event.event_id, "uc-c3");
    EXPECT_FALSE(store_->LoadAccount("c2")->has_value()) << "not marked published";
}

TEST_F(GroupCommit, TheDestructorCommitsWhatIsQueued) {
    Reopen(64);  // nothing would commit for 5 s
    Completions completions(3);
    for (const char* customer : {"c1", "c2", "c3"}) {
        store_->RecordRolesAssigned(customer, completions.Callback());
    }
    store_.reset();
    auto statuses = completions.Wait();
    ASSERT_EQ(statuses.size(), 3u);
    for (const auto& status : statuses) EXPECT_TRUE(status.ok());
    store_ = Open();
    for (const char* customer : {"c1", "c2", "c3"}) EXPECT_TRUE(RolesAssigned(customer));
}

namespace reads {
using Store = StoreTest;  // the suite's name

TEST_F(Store, ReadsDoNotWaitBehindAWriteTransaction) {
    ASSERT_TRUE(store_->Ingest({Accepted("e1", "c1")}, {}).ok());
    ASSERT_TRUE(Sync(*store_).RecordRolesAssigned("c1").ok());
    // Another process holds the write lock with an uncommitted write; our writer waits for it
    // (busy_timeout 5 s) with a write of its own queued.
    auto other = OpenRaw(path_);
    ASSERT_EQ(sqlite3_exec(other.get(),
                           "BEGIN IMMEDIATE; INSERT INTO accounts (customer_id, updated_at_ms) "
                           "VALUES ('c-other', 0)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    Completions queued(1);
    store_->RecordRolesAssigned("c2", queued.Callback());

    auto started = std::chrono::steady_clock::now();
    auto account = store_->LoadAccount("c1");
    auto due = store_->DueJobs(clock_.Now(), 10, {});
    auto uncommitted = store_->LoadAccount("c-other");
    auto unsent = store_->CountUnsentOutbox();
    auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(account.ok() && account->has_value());
    EXPECT_TRUE((*account)->roles_assigned);
    ASSERT_TRUE(due.ok());
    EXPECT_EQ(due->size(), 1u);
    ASSERT_TRUE(uncommitted.ok());
    EXPECT_FALSE(uncommitted->has_value());
    EXPECT_TRUE(unsent.ok());
    EXPECT_LT(elapsed, 1s) << "reads waited for the write lock";

    ASSERT_EQ(sqlite3_exec(other.get(), "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    auto statuses = queued.Wait();
    ASSERT_EQ(statuses.size(), 1u);
    EXPECT_TRUE(statuses[0].ok());
}

}  // namespace reads

}  // namespace
}  // namespace kyc_bridge::store::testing
