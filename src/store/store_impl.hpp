// SPDX-License-Identifier: Apache-2.0
// Private state of Store: the connection, its lock, cached statements and the error funnel.
#pragma once

#include <exception>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/core/error.hpp"
#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::store {

/// "store: <operation>: <sqlite message> (extended code N)", kTransient: SQLITE_BUSY, I/O errors
/// and a full disk clear up on their own or by an operator, and the caller retries.
core::Error ErrorFrom(std::string_view operation, const SQLite::Exception& e);

/// Leaves a cached statement reset (not holding a read snapshot) whatever happens after bind.
class StatementUse {
public:
    explicit StatementUse(SQLite::Statement& statement) : statement_(statement) {
        statement_.tryReset();
        statement_.clearBindings();
    }
    ~StatementUse() { statement_.tryReset(); }
    StatementUse(const StatementUse&) = delete;
    StatementUse& operator=(const StatementUse&) = delete;
    SQLite::Statement& operator*() { return statement_; }
    SQLite::Statement* operator->() { return &statement_; }

private:
    SQLite::Statement& statement_;
};

struct Store::Impl {
    Impl(const std::string& path, std::chrono::milliseconds busy_timeout, const core::Clock& clock);

    /// Runs `body` under the lock; a SQLite::Exception becomes a kTransient Error (and any open
    /// SQLite::Transaction inside `body` has rolled back by then).
    /// An `urgent` body goes before every ordinary one that is still waiting: the record of a
    /// password email is written while the next email waits for it (see JobRunner).
    template <typename Body>
    auto Run(std::string_view operation, Body&& body, bool urgent = false) -> decltype(body()) {
        if (urgent) ++urgent_waiting;
        std::unique_lock lock(mutex);
        if (urgent) {
            --urgent_waiting;
        } else {
            urgent_done.wait(lock, [this] { return urgent_waiting.load() == 0; });
        }
        struct WakeOrdinary {
            std::condition_variable& cv;
            bool urgent;
            ~WakeOrdinary() {
                if (urgent) cv.notify_all();
            }
        } wake{urgent_done, urgent};
        try {
            return body();
        } catch (const SQLite::Exception& e) {
            return ErrorFrom(operation, e);
        } catch (const std::exception& e) {
            return core::Error::Transient("store: " + std::string(operation) + ": " + e.what(),
                                          "store_error");
        }
    }

    /// A write transaction that takes the write lock up front (BEGIN IMMEDIATE), so waiting for
    /// another writer goes through busy_timeout instead of failing at the first write with
    /// SQLITE_BUSY (https://www.sqlite.org/lang_transaction.html).
    SQLite::Transaction Write() {
        return SQLite::Transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    }

    std::int64_t NowMs() const { return core::ToUnixMillis(clock.Now()); }

    // Helpers of the Store methods; each runs inside Run (lock held) and throws SQLite::Exception.

    /// Queues an outbound event unless its event_id is already in the outbox; true if added.
    bool InsertOutbox(const provision::OutboundEvent& event, std::int64_t now_ms);
    /// Upserts the account row setting extra `columns` to `values` (SQL fragments of this module,
    /// starting with ", "), binding `texts` from ?3 on.
    void TouchAccount(const std::string& customer_id, const char* columns, const char* values,
                      const char* assignments, const std::vector<std::string>& texts);
    /// Restores the head invariant of one customer after a job entered or left 'pending': its
    /// oldest pending job has is_head = 1, every other job 0.
    void RefreshHead(const std::string& customer_id);
    /// The customer of a job, empty if there is no such job.
    std::string CustomerOf(std::int64_t job_id);
    /// Fails a pending job whose inbox payload no longer parses, so that it stops blocking its
    /// customer and shows up in `jobs list` for an operator.
    void FailUnparseable(std::int64_t job_id, const core::Error& error);
    /// Moves a pending job to `new_state` with its attempt count and error, in one transaction;
    /// a kPermanent error if the job is not pending.
    core::Status UpdatePending(std::string_view operation, std::int64_t job_id,
                               const char* new_state, int attempts, std::int64_t next_attempt_ms,
                               const core::Error& error);

    std::mutex mutex;
    std::atomic<int> urgent_waiting{0};
    std::condition_variable urgent_done;
    const core::Clock& clock;
    SQLite::Database db;
    // Hot-path statements, prepared once (guarded by mutex like the connection).
    SQLite::Statement insert_inbox;
    SQLite::Statement insert_job;
    SQLite::Statement insert_rejected;
    SQLite::Statement insert_outbox;
    SQLite::Statement due_jobs;
};

}  // namespace kyc_bridge::store
