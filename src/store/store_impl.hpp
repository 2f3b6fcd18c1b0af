// SPDX-License-Identifier: Apache-2.0
// Private state of Store: the two connections, their prepared statements, the writer.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/core/error.hpp"
#include "kyc_bridge/store/store.hpp"
#include "statement.hpp"
#include "writer.hpp"

namespace kyc_bridge::store {

/// Rejected payloads are kept for ops (and `rejected replay`): a bounded copy is enough, and a
/// truncated one is never replayed.
inline constexpr std::size_t kMaxRejectedPayload = 64 * 1024;

/// Every statement of the write connection, one per operation, prepared once (statements.cpp).
/// Used only on the writer thread.
struct WriteStatements {
    explicit WriteStatements(SQLite::Database& db);
    SQLite::Statement insert_inbox, inbox_hash, insert_job, insert_rejected, insert_outbox;
    SQLite::Statement clear_head, promote_head, customer_of, event_of;
    SQLite::Statement fail_unparseable, update_pending, complete_job, replay_job, profile_applied;
    SQLite::Statement upsert_user, upsert_roles, upsert_email_sending, upsert_email_sent,
        upsert_blocked, upsert_roles_removed, upsert_applied, job_outcome, job_kind,
        upsert_published;
    SQLite::Statement mark_sent, erase_done, purge_rejected, purge_failed,
        erase_replayed_rejected, set_aside;
    SQLite::Statement insert_attempt, insert_audit, set_daemon_state;
};

/// Every statement of the read connection, prepared once; guarded by Impl::read_mutex.
struct ReadStatements {
    explicit ReadStatements(SQLite::Database& db);
    SQLite::Statement due_jobs, next_due, load_account;
    SQLite::Statement pending_outbox, count_unsent, list_set_aside, count_set_aside;
    SQLite::Statement list_jobs, list_rejected, count_by_state;
    SQLite::Statement oldest_pending, oldest_unsent;
    SQLite::Statement list_failed, job_detail, job_attempts, load_rejected, list_audit,
        last_errors, get_daemon_state;
    SQLite::Statement count_purgeable_rejected, count_purgeable_failed;
};

struct Store::Impl {
    Impl(const std::string& path, std::chrono::milliseconds busy_timeout, const core::Clock& clock,
         StoreOptions options);

    /// Runs `body` on the read connection under read_mutex; a SQLite::Exception becomes a
    /// kTransient Error.
    template <typename Body>
    auto Read(std::string_view operation, Body&& body) -> decltype(body()) {
        std::lock_guard lock(read_mutex);
        try {
            return body();
        } catch (const SQLite::Exception& e) {
            if (IsUnrecoverable(e.getExtendedErrorCode())) {
                int none = 0;
                stats.unrecoverable_code.compare_exchange_strong(none, e.getExtendedErrorCode());
            }
            return ErrorFrom(operation, e);
        } catch (const std::exception& e) {
            return core::Error::Transient("store: " + std::string(operation) + ": " + e.what(),
                                          "store_error");
        }
    }
    /// Queues a write (see Writer); `body` runs on the writer thread and may use `w`.
    void Write(std::string_view operation, std::function<core::Status()> body,
               core::Callback<void> done) {
        writer.Submit({operation, std::move(body), std::move(done)});
    }
    core::Status WriteAndWait(std::string_view operation, std::function<core::Status()> body) {
        return writer.SubmitAndWait(operation, std::move(body));
    }

    std::int64_t NowMs() const { return core::ToUnixMillis(clock.Now()); }

    // Helpers of write bodies: writer thread only; they throw SQLite::Exception.

    /// Queues an outbound event unless its event_id is already in the outbox; true if added.
    /// `source_event_id`: the inbox event it publishes for (personal data of that event is
    /// erased only after it is sent), empty for none. `erase_when_sent`: a dead letter, whose
    /// payload and headers are dropped once sent.
    bool InsertOutbox(const provision::OutboundEvent& event, std::int64_t now_ms,
                      const std::string& source_event_id, bool erase_when_sent);
    /// The event_id of a job, empty if there is no such job.
    std::string EventOf(std::int64_t job_id);
    /// Inserts an accepted event into the inbox (with its hash) and makes its job. kNew, or why
    /// not: the event_id is known with the same payload (a duplicate) or another (a conflict).
    enum class InboxResult { kNew, kDuplicate, kConflict };
    InboxResult InsertInbox(const AcceptedEvent& accepted, std::int64_t now_ms);
    /// Runs one of the account upserts (?1 customer_id, ?2 now).
    void UpsertAccount(SQLite::Statement& upsert, const std::string& customer_id);
    /// Restores the head invariant of one customer after a job entered or left 'pending': its
    /// oldest pending job has is_head = 1, every other job 0.
    void RefreshHead(const std::string& customer_id);
    /// The customer of a job, empty if there is no such job.
    std::string CustomerOf(std::int64_t job_id);
    /// Fails a pending job whose inbox payload no longer parses, so that it stops blocking its
    /// customer and shows up in `jobs list` for an operator.
    void FailUnparseable(std::int64_t job_id, const core::Error& error);
    /// Moves a pending job to `new_state` with its attempt count and error; a kPermanent error if
    /// the job is not pending.
    /// Appends one row to the attempts history of a job (what ended that attempt).
    void RecordAttempt(std::int64_t job_id, int attempt, const core::Error& error);
    /// Appends one audit row (?job_id may be absent, event_ref may be empty).
    void InsertAudit(const AuditContext& audit, std::optional<std::int64_t> job_id,
                     const std::string& event_ref);
    core::Status UpdatePending(std::string_view operation, std::int64_t job_id,
                               const char* new_state, int attempts, std::int64_t next_attempt_ms,
                               const core::Error& error);

    const std::string path;
    const core::Clock& clock;
    StoreStats stats;
    SQLite::Database write_db;  ///< the writer thread's, after construction
    SQLite::Database read_db;
    WriteStatements w;
    ReadStatements r;
    std::mutex read_mutex;
    Writer writer;  ///< last: stopped (and drained) before the statements and connections go
};

/// A JobSummary from a row whose columns 0–10 are job_id, event_id, customer_id, state,
/// attempts, last_error_kind, last_error, created_at_ms, updated_at_ms, kind, outcome.
JobSummary JobSummaryFrom(SQLite::Statement& row);

}  // namespace kyc_bridge::store
