// SPDX-License-Identifier: Apache-2.0
// The SQLite store: inbox, jobs, customer accounts, rejected events and the outbox, in one file.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kyc_bridge/core/async.hpp"
#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/core/error.hpp"
#include "kyc_bridge/provision/job.hpp"
#include "kyc_bridge/provision/job_ledger.hpp"
#include "kyc_bridge/store/store_types.hpp"

namespace kyc_bridge::store {

/// The store file cannot be opened or migrated: the daemon cannot start.
class StoreError : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// True for an SQLite extended result code that no retry heals: SQLITE_CORRUPT, SQLITE_NOTADB,
/// SQLITE_READONLY, SQLITE_CONSTRAINT (SQLITE_FULL only after many commits in a row).
bool IsUnrecoverable(int extended_code);
/// The schema version this build writes (PRAGMA user_version); migrations run at start-up.
int CurrentSchemaVersion();
/// Creates `path` as a store of schema `version` (1 to CurrentSchemaVersion()), exactly as the
/// release of that version made it, for upgrade tests. Throws StoreError.
void CreateStoreAtSchemaVersion(const std::string& path, int version);
/// SQLite's own words for an extended result code ("database disk image is malformed").
std::string DescribeSqliteCode(int extended_code);
/// What an operator should do about a code that retrying cannot heal (see IsUnrecoverable).
std::string HintForSqliteCode(int extended_code);

/// The store file (WAL, synchronous=FULL, foreign keys on, busy timeout). Thread-safe.
///
/// Writes: one writer thread owns the write connection and groups the writes waiting into one
/// transaction (see StoreOptions). What a caller may rely on:
/// - durable: a write is acknowledged (its callback runs, or its blocking call returns) only
///   after the COMMIT containing it returned, synchronous=FULL;
/// - ordered: writes are applied in the order they were queued, whoever queued them;
/// - isolated failures: a write that finds the data in the wrong state (kPermanent) is rolled
///   back alone (a SAVEPOINT per write); a SQLite failure (SQLITE_BUSY after busy_timeout, I/O
///   error, disk full, a failed COMMIT) fails every write of that transaction with kTransient and
///   none of them is applied;
/// - callbacks run on the writer thread, once, after COMMIT (or the failure): they must be short
///   and must not call the blocking writes below (they would wait for their own thread).
/// Blocking writes (Ingest, MarkSent, SetAsideOutbox, ReplayJob) queue like the others and
/// wait for their transaction.
///
/// Reads use a connection of their own behind their own lock and never wait behind a write
/// transaction (WAL); they see every write whose callback has run.
///
/// Errors are kTransient; only the constructor throws. An error that retrying cannot heal
/// (corrupt file, not a database, read-only, constraint, a disk full for many commits) also
/// sets stats().unrecoverable_code.
///
/// Files: a new store file is created 0600 (SQLite gives its WAL and SHM files the same mode)
/// and a directory the store creates 0700.
class Store final : public provision::JobLedger {
public:
    /// Opens or creates the file (and its directory; with Open::kOpenExisting a missing file is
    /// an error), applies pending schema migrations, prepares every statement and starts the
    /// writer thread. Throws StoreError naming the path and SQLite's reason.
    Store(const std::string& path, std::chrono::milliseconds busy_timeout, const core::Clock& clock,
          StoreOptions options = {});
    /// Commits every write still queued (their callbacks run), then stops the writer.
    ~Store() override;
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    /// One consumer batch: inbox rows + jobs for new event_ids, rejected rows + dead-letter
    /// outbox rows, all in one transaction. Blocks; durable when it returns ok.
    core::Result<IngestSummary> Ingest(const std::vector<AcceptedEvent>& accepted,
                                       const std::vector<RejectedEvent>& rejected);

    // provision::JobLedger (reads block briefly; writes queue, see above).
    /// Also fails (durably, before returning) any due job whose inbox payload no longer parses,
    /// so that it stops blocking its customer; an error if that write fails.
    core::Result<std::vector<provision::Job>> DueJobs(
        core::TimePoint now, std::size_t limit,
        const std::set<std::string>& busy_customers) override;
    /// The earliest next_attempt_at among the head (oldest pending) jobs of each customer: jobs
    /// queued behind a head are not runnable at their own time, so they do not count.
    core::Result<std::optional<core::TimePoint>> NextDueTime() override;
    core::Result<std::optional<provision::CustomerAccount>> LoadAccount(
        const std::string& customer_id) override;
    /// kPermanent if the job is unknown (nothing is recorded then).
    void RecordUser(std::int64_t job_id, const std::string& customer_id,
                    const std::string& auth0_user_id, const std::string& outcome,
                    core::Callback<void> done) override;
    /// kPermanent if the job is unknown.
    void RecordProfileApplied(std::int64_t job_id, core::Callback<void> done) override;
    void RecordRolesAssigned(const std::string& customer_id, core::Callback<void> done) override;
    void RecordPasswordEmailSending(const std::string& customer_id,
                                    core::Callback<void> done) override;
    /// Sets password_setup_sent and leaves password_email_sending set: sent implies sending.
    void RecordPasswordEmailSent(const std::string& customer_id,
                                 core::Callback<void> done) override;
    void RecordBlocked(const std::string& customer_id, const std::string& auth0_user_id,
                       bool blocked, core::Callback<void> done) override;
    void RecordRolesRemoved(const std::string& customer_id, core::Callback<void> done) override;
    /// kPermanent if the job is unknown.
    void RecordOutcome(std::int64_t job_id, const std::string& customer_id,
                       const std::string& outcome, std::int64_t applied_ms,
                       core::Callback<void> done) override;
    /// kPermanent unless the job is pending or already done (completing twice is harmless).
    void CompleteJob(std::int64_t job_id, const std::string& customer_id,
                     const std::optional<provision::OutboundEvent>& event,
                     core::Callback<void> done) override;
    /// kPermanent unless the job is pending.
    void RescheduleJob(std::int64_t job_id, int attempts, core::TimePoint next_attempt_at,
                       const core::Error& error, core::Callback<void> done) override;
    /// kPermanent unless the job is pending.
    void FailJob(std::int64_t job_id, int attempts, const core::Error& error,
                 core::Callback<void> done) override;

    /// Unsent, not set-aside outbox rows with seq > after_seq, oldest first.
    core::Result<std::vector<OutboxRow>> PendingOutbox(std::int64_t after_seq, std::size_t limit);
    /// Marks rows sent (after their delivery reports), in one write; marking again is a no-op.
    /// Blocks until durable.
    core::Status MarkSent(const std::vector<std::int64_t>& seqs);
    core::Status MarkSent(std::int64_t seq) { return MarkSent(std::vector<std::int64_t>{seq}); }
    /// Takes an unsent row out of the relay's way for good, with the producer's reason (never
    /// payload). A no-op for a row that is sent, set aside already or unknown. Blocks until
    /// durable.
    core::Status SetAsideOutbox(std::int64_t seq, const std::string& reason);
    /// Unsent rows, set-aside ones excluded.
    core::Result<std::int64_t> CountUnsentOutbox();
    /// Set-aside rows, newest first.
    core::Result<std::vector<SetAsideRow>> ListSetAside(std::size_t limit);
    core::Result<std::int64_t> CountSetAside();

    // For the ops CLI and tests.
    /// Jobs in `state` (every state if empty), newest first.
    core::Result<std::vector<JobSummary>> ListJobs(const std::string& state, std::size_t limit);
    /// Rejected messages, newest first.
    core::Result<std::vector<RejectedSummary>> ListRejected(std::size_t limit);
    /// Puts a failed job back to pending, due now, attempts reset. False if it was not failed.
    /// Blocks until durable.
    core::Result<bool> ReplayJob(std::int64_t job_id);
    /// Counts of jobs by state: "pending", "done", "failed", in that order, zeros included.
    core::Result<std::vector<std::pair<std::string, std::int64_t>>> CountJobsByState();
    /// created_at of the oldest pending job / unsent outbox row (set-aside excluded), if any.
    core::Result<std::optional<std::int64_t>> OldestPendingCreatedAtMs();
    core::Result<std::optional<std::int64_t>> OldestUnsentOutboxCreatedAtMs();

    // Operations (store_audit.cpp).
    /// Failed jobs matching `filter`, newest first.
    core::Result<std::vector<JobSummary>> ListFailedJobs(const FailedFilter& filter);
    /// A job, its customer's recorded steps and every failed attempt; nullopt if unknown.
    core::Result<std::optional<JobDetail>> LoadJobDetail(std::int64_t job_id);
    /// Puts each failed job of `job_ids` back to pending with a fresh attempt budget, job i due
    /// at now + i × `spacing` (ms resolution), and writes one audit row per replayed job, in one
    /// transaction. Returns the ids replayed (those not failed any more are skipped). Blocks
    /// until durable.
    core::Result<std::vector<std::int64_t>> ReplayJobs(const std::vector<std::int64_t>& job_ids,
                                                       std::chrono::microseconds spacing,
                                                       const AuditContext& audit);
    /// Ingests a rejected event that validates now (inbox + job, event_id dedup as Ingest) and
    /// audits it; true if a new job was made, false for a known event_id. Blocks until durable.
    core::Result<bool> IngestReplayed(const AcceptedEvent& event, std::int64_t rejected_id,
                                      const AuditContext& audit);
    /// A rejected message with its stored payload; nullopt if unknown.
    core::Result<std::optional<RejectedRow>> LoadRejected(std::int64_t id);
    /// The audit trail from `since_ms` on, oldest first.
    core::Result<std::vector<AuditRow>> ListAudit(std::int64_t since_ms, std::size_t limit);
    /// The most recent error per failure class among failed and pending jobs.
    core::Result<std::vector<LastErrorOfKind>> LastErrorsByKind();
    /// Daemon state for ops (e.g. key "quarantine", value "none" or the reason). Queued like the
    /// JobLedger writes; `done` as there. The blocking form must not run on the writer thread.
    void SetDaemonState(const std::string& key, const std::string& value,
                        core::Callback<void> done);
    core::Status SetDaemonState(const std::string& key, const std::string& value);
    core::Result<std::optional<DaemonStateValue>> GetDaemonState(const std::string& key);

    // Personal data (store_audit.cpp).
    /// Erases the payload (email, names, phone, locale) of up to `limit` inbox events whose job
    /// is done, finished at or before `done_before_ms`, and whose outbound events are all sent.
    /// The event_id (deduplication), its hash, the customer id and the job's steps stay.
    /// Queued like the JobLedger writes; `done` gets the number erased.
    void ErasePersonalData(std::int64_t done_before_ms, std::size_t limit,
                           core::Callback<std::int64_t> done);
    /// Erases the personal fields of rejected events received, and of failed jobs failed,
    /// before `older_than_ms` (a purged failed job can no longer be replayed), with one audit
    /// row naming the counts; `dry_run` only counts. Blocks until durable.
    core::Result<PurgeSummary> Purge(std::int64_t older_than_ms, bool dry_run,
                                     const AuditContext& audit);

    /// The writer's counters. Thread-safe.
    const StoreStats& stats() const;
    /// The file's path, as given.
    const std::string& path() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kyc_bridge::store
