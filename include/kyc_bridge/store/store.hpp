// SPDX-License-Identifier: Apache-2.0
// The SQLite store: inbox, jobs, customer accounts, rejected events and the outbox, in one file.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/core/error.hpp"
#include "kyc_bridge/provision/job.hpp"
#include "kyc_bridge/provision/job_ledger.hpp"

namespace kyc_bridge::store {

/// The store file cannot be opened or migrated: the daemon cannot start.
class StoreError : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Where an inbound Kafka message came from.
struct Origin {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
};

/// A valid event to put in the inbox (and create a job for, unless its event_id is known).
struct AcceptedEvent {
    Origin origin;
    events::KycVerified event;
};

/// A poison message: recorded with its reason, and its dead letter queued in the outbox.
struct RejectedEvent {
    Origin origin;
    std::string reason;  ///< "code: message", never personal data
    provision::OutboundEvent dead_letter;
};

struct IngestSummary {
    int accepted = 0;    ///< new inbox rows (and jobs)
    int duplicates = 0;  ///< event_ids already in the inbox: no job, no Auth0 call
    int rejected = 0;    ///< new rejected rows: a redelivered poison message counts once
};

struct OutboxRow {
    std::int64_t seq = 0;  ///< insertion order, the relay's cursor
    provision::OutboundEvent event;
};

/// A job as the ops CLI lists it.
struct JobSummary {
    std::int64_t job_id = 0;
    std::string event_id;
    std::string customer_id;
    std::string state;
    int attempts = 0;
    std::string last_error;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
};

struct RejectedSummary {
    Origin origin;
    std::string event_id;  ///< empty when the payload had none
    std::string reason;
    std::int64_t rejected_at_ms = 0;
};

/// Owns the SQLite connection (WAL, synchronous=FULL, foreign keys on, busy timeout). All methods
/// are thread-safe (one connection, serialized) and return kTransient errors for SQLITE_BUSY,
/// I/O errors and a full disk; only the constructor throws.
class Store final : public provision::JobLedger {
public:
    /// Opens or creates the file (and its directory) and applies pending schema migrations.
    /// Throws StoreError naming the path and SQLite's reason.
    Store(const std::string& path, std::chrono::milliseconds busy_timeout,
          const core::Clock& clock);
    ~Store() override;
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    /// One transaction for a whole consumer batch: inbox rows + jobs for new event_ids, rejected
    /// rows + dead-letter outbox rows. Durable when it returns ok.
    core::Result<IngestSummary> Ingest(const std::vector<AcceptedEvent>& accepted,
                                       const std::vector<RejectedEvent>& rejected);

    // provision::JobLedger
    core::Result<std::vector<provision::Job>> DueJobs(
        core::TimePoint now, std::size_t limit,
        const std::set<std::string>& busy_customers) override;
    /// The earliest next_attempt_at among the head (oldest pending) jobs of each customer: jobs
    /// queued behind a head are not runnable at their own time, so they do not count.
    core::Result<std::optional<core::TimePoint>> NextDueTime() override;
    core::Result<std::optional<provision::CustomerAccount>> LoadAccount(
        const std::string& customer_id) override;
    core::Status RecordUser(const std::string& customer_id, const std::string& auth0_user_id,
                            const std::string& outcome) override;
    core::Status RecordRolesAssigned(const std::string& customer_id) override;
    core::Status RecordPasswordSetupSent(const std::string& customer_id) override;
    core::Status RecordProfileApplied(std::int64_t job_id) override;
    core::Status CompleteJob(std::int64_t job_id, const std::string& customer_id,
                             const std::optional<provision::OutboundEvent>& event) override;
    core::Status RescheduleJob(std::int64_t job_id, int attempts, core::TimePoint next_attempt_at,
                               const core::Error& error) override;
    core::Status FailJob(std::int64_t job_id, int attempts, const core::Error& error) override;

    /// Unsent outbox rows with seq > after_seq, oldest first.
    core::Result<std::vector<OutboxRow>> PendingOutbox(std::int64_t after_seq, std::size_t limit);
    /// Marks a row sent (after its delivery report); marking it again is a no-op.
    core::Status MarkSent(std::int64_t seq);
    core::Result<std::int64_t> CountUnsentOutbox();

    // For the ops CLI and tests.
    /// Jobs in `state` (every state if empty), newest first.
    core::Result<std::vector<JobSummary>> ListJobs(const std::string& state, std::size_t limit);
    /// Rejected messages, newest first.
    core::Result<std::vector<RejectedSummary>> ListRejected(std::size_t limit);
    /// Puts a failed job back to pending, due now, attempts reset. False if it was not failed.
    core::Result<bool> ReplayJob(std::int64_t job_id);
    /// Counts of jobs by state: "pending", "done", "failed", in that order, zeros included.
    core::Result<std::vector<std::pair<std::string, std::int64_t>>> CountJobsByState();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kyc_bridge::store
