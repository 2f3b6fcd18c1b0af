// SPDX-License-Identifier: Apache-2.0
// The writer thread: take what is waiting, one transaction, one SAVEPOINT per write, COMMIT, reply.
#include "writer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cassert>
#include <exception>
#include <future>
#include <string>
#include <utility>

#include "kyc_bridge/core/log_limiter.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "kyc_bridge/store/store.hpp"
#include "statement.hpp"

namespace kyc_bridge::store {

namespace {

void Exec(SQLite::Statement& statement) { StatementUse(statement)->exec(); }

std::uint64_t MicrosSince(std::chrono::steady_clock::time_point start) {
    auto elapsed = std::chrono::steady_clock::now() - start;
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
}

}  // namespace

Writer::Writer(SQLite::Database& db, StoreOptions options, StoreStats& stats)
    : db_(db),
      options_{options.commit_interval, std::max<std::size_t>(options.commit_max_records, 1),
               options.open, options.on_commit},
      stats_(stats),
      begin_(db, "BEGIN IMMEDIATE"),
      commit_(db, "COMMIT"),
      // One name is enough: savepoints never nest here, each is released before the next.
      savepoint_(db, "SAVEPOINT write_op"),
      release_(db, "RELEASE write_op"),
      rollback_to_(db, "ROLLBACK TO write_op") {
    // Started last: from here on only the thread touches db_ and the statements.
    thread_ = std::thread([this] { Loop(); });
}

Writer::~Writer() { Stop(); }

void Writer::Submit(WriteOp op) {
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) {
            op.queued_at = std::chrono::steady_clock::now();
            queue_.push_back(std::move(op));
            cv_.notify_one();
            return;
        }
    }
    if (op.done) {
        op.done(core::Error::Transient(
            "store: " + std::string(op.operation) + ": the store is closing", "store_closed"));
    }
}

core::Status Writer::SubmitAndWait(std::string_view operation, std::function<core::Status()> body) {
    assert(std::this_thread::get_id() != thread_.get_id() && "would wait for itself");
    std::promise<core::Status> promise;
    auto future = promise.get_future();
    Submit({operation, std::move(body),
            [&promise](core::Status status) { promise.set_value(std::move(status)); }});
    return future.get();
}

void Writer::Stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void Writer::Loop() {
    while (true) {
        auto batch = TakeBatch();
        if (batch.empty()) return;
        auto statuses = Commit(batch);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (batch[i].done) batch[i].done(std::move(statuses[i]));
        }
    }
}

std::deque<WriteOp> Writer::TakeBatch() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return {};
    // Waiting for company costs the first write at most commit_interval and saves an fsync per
    // write that joins; a full batch or shutdown does not wait.
    cv_.wait_until(lock, queue_.front().queued_at + options_.commit_interval,
                   [this] { return stopping_ || queue_.size() >= options_.commit_max_records; });
    auto count = std::min(queue_.size(), options_.commit_max_records);
    std::deque<WriteOp> batch(std::make_move_iterator(queue_.begin()),
                              std::make_move_iterator(queue_.begin() + count));
    queue_.erase(queue_.begin(), queue_.begin() + count);
    return batch;
}

std::vector<core::Status> Writer::Commit(std::deque<WriteOp>& batch) {
    std::vector<core::Status> statuses;
    statuses.reserve(batch.size());
    auto started = std::chrono::steady_clock::now();
    try {
        Exec(begin_);
        for (auto& op : batch) statuses.push_back(RunInSavepoint(op));
        Exec(commit_);
    } catch (const SQLite::Exception& e) {
        // Nothing of the batch is durable: every waiter hears so, none is acknowledged.
        RollBack();
        ++stats_.commit_failures;
        stats_.last_commit_ok = false;
        core::LogLimited(*core::Logger("store"), spdlog::level::warn,
                         "commit_failed/" + std::to_string(e.getErrorCode()),
                         "event=commit_failed records={} code={} error=\"{}\"", batch.size(),
                         e.getErrorCode(), e.what());
        const int code = e.getExtendedErrorCode();
        full_commits_in_a_row_ = (code & 0xff) == SQLITE_FULL ? full_commits_in_a_row_ + 1 : 0;
        if (IsUnrecoverable(code) || full_commits_in_a_row_ >= kFullCommitsBeforeFatal) {
            int none = 0;
            stats_.unrecoverable_code.compare_exchange_strong(none, code);
        }
        statuses.clear();
        for (const auto& op : batch) statuses.push_back(ErrorFrom(op.operation, e));
        return statuses;
    }
    full_commits_in_a_row_ = 0;
    auto micros = MicrosSince(started);
    auto succeeded = std::count_if(statuses.begin(), statuses.end(),
                                   [](const core::Status& s) { return s.ok(); });
    ++stats_.transactions_committed;
    stats_.records_committed += static_cast<std::uint64_t>(succeeded);
    stats_.commit_micros_total += micros;
    stats_.last_commit_micros = micros;
    stats_.last_commit_ok = true;
    if (options_.on_commit) options_.on_commit(std::chrono::microseconds{micros});
    if (batch.size() > stats_.max_records_per_transaction.load()) {
        stats_.max_records_per_transaction = batch.size();  // only this thread writes it
    }
    return statuses;
}

core::Status Writer::RunInSavepoint(WriteOp& op) {
    Exec(savepoint_);
    core::Status status;
    try {
        status = op.body();
    } catch (const SQLite::Exception&) {
        throw;  // the transaction's fate, not this write's alone
    } catch (const std::exception& e) {
        status = core::Error::Transient("store: " + std::string(op.operation) + ": " + e.what(),
                                        "store_error");
    }
    if (!status.ok()) Exec(rollback_to_);
    Exec(release_);
    return status;
}

void Writer::RollBack() noexcept {
    // A failed COMMIT (a deferred constraint) leaves the transaction open; an I/O error may
    // already have rolled it back
    // (https://www.sqlite.org/lang_transaction.html#response_to_errors_within_a_transaction).
    if (sqlite3_get_autocommit(db_.getHandle()) != 0) return;
    try {
        db_.exec("ROLLBACK");
    } catch (const SQLite::Exception& e) {
        core::Logger("store")->error("event=rollback_failed error=\"{}\"", e.what());
    }
}

}  // namespace kyc_bridge::store
