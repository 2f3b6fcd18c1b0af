// SPDX-License-Identifier: Apache-2.0
// Group commit: one thread owns the write connection and runs queued writes, many per transaction.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "kyc_bridge/core/async.hpp"
#include "kyc_bridge/core/error.hpp"
#include "kyc_bridge/store/store_types.hpp"

namespace kyc_bridge::store {

/// One queued write: `body` runs on the writer thread inside the transaction and its own
/// SAVEPOINT. It returns a kPermanent Status for a logical failure (only its SAVEPOINT is rolled
/// back) and throws SQLite::Exception for a SQLite failure (the whole transaction fails).
struct WriteOp {
    std::string_view operation;  ///< a literal: "complete job", named in error messages
    std::function<core::Status()> body;
    core::Callback<void> done;                          ///< may be empty (nobody waits)
    std::chrono::steady_clock::time_point queued_at{};  ///< set by Writer::Submit
};

/// The only user of the write connection after construction. Thread-safe.
class Writer {
public:
    /// `db` and `stats` outlive the Writer. Prepares its transaction statements (throws
    /// SQLite::Exception) and starts the thread.
    Writer(SQLite::Database& db, StoreOptions options, StoreStats& stats);
    /// Stop().
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    /// Queues `op`. After Stop() it fails at once (kTransient), on the calling thread.
    void Submit(WriteOp op);
    /// Queues and waits for the transaction. Must not be called on the writer thread.
    core::Status SubmitAndWait(std::string_view operation, std::function<core::Status()> body);
    /// Commits everything still queued, then joins the thread. Idempotent.
    void Stop();

private:
    void Loop();
    /// Waits for the first write, then for company (commit_interval or commit_max_records);
    /// takes up to commit_max_records. Empty only when stopping with nothing queued.
    std::deque<WriteOp> TakeBatch();
    /// One transaction for the batch; the status of each write, in order.
    std::vector<core::Status> Commit(std::deque<WriteOp>& batch);
    core::Status RunInSavepoint(WriteOp& op);
    void RollBack() noexcept;

    SQLite::Database& db_;
    const StoreOptions options_;
    StoreStats& stats_;
    int full_commits_in_a_row_ = 0;  ///< SQLITE_FULL failures since the last good commit
    // BEGIN IMMEDIATE takes the write lock up front, so waiting for another writer goes through
    // busy_timeout instead of failing at the first write
    // (https://www.sqlite.org/lang_transaction.html).
    SQLite::Statement begin_;
    SQLite::Statement commit_;
    SQLite::Statement savepoint_;
    SQLite::Statement release_;
    SQLite::Statement rollback_to_;

    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<WriteOp> queue_;
    std::chrono::steady_clock::time_point first_queued_at_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace kyc_bridge::store
