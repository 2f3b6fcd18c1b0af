// SPDX-License-Identifier: Apache-2.0
// The provisioner's view of durable state: claim jobs, record each completed Auth0 step.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kyc_bridge/core/async.hpp"
#include "kyc_bridge/core/error.hpp"
#include "kyc_bridge/provision/job.hpp"

namespace kyc_bridge::provision {

/// Durable job state. Thread-safe.
///
/// Reads block briefly and never wait behind a write transaction (the store reads on a
/// connection of its own; WAL).
///
/// Writes do not block: each is queued and its callback runs once the write is durable (ok) or
/// has failed (kTransient: SQLITE_BUSY, I/O error, disk full; kPermanent: the job is not in the
/// expected state), on the store's writer thread, or inside the call (fakes). Writes queued by
/// one caller are applied in the order they were queued. A step's record being durable is what
/// allows the next step to start.
class JobLedger {
public:
    virtual ~JobLedger() = default;

    /// Up to `limit` pending jobs that are due at `now`, each the oldest pending job of its
    /// customer, skipping customers in `busy_customers`; oldest first. One query for the batch.
    virtual core::Result<std::vector<Job>> DueJobs(core::TimePoint now, std::size_t limit,
                                                   const std::set<std::string>& busy_customers) = 0;
    /// The earliest next_attempt_at of any pending head job, if there is one.
    virtual core::Result<std::optional<core::TimePoint>> NextDueTime() = 0;
    virtual core::Result<std::optional<CustomerAccount>> LoadAccount(
        const std::string& customer_id) = 0;

    /// Step "user": the Auth0 user of this customer, whether kyc-bridge created it, and this
    /// job's profile applied (the create call or the 409 resolution carried it), in one record.
    virtual void RecordUser(std::int64_t job_id, const std::string& customer_id,
                            const std::string& auth0_user_id, const std::string& outcome,
                            core::Callback<void> done) = 0;
    /// Step "profile" of a later event for a known user (PATCH).
    virtual void RecordProfileApplied(std::int64_t job_id, core::Callback<void> done) = 0;
    virtual void RecordRolesAssigned(const std::string& customer_id, core::Callback<void> done) = 0;
    /// Phase 1 of the password email: durable before the change_password call.
    virtual void RecordPasswordEmailSending(const std::string& customer_id,
                                            core::Callback<void> done) = 0;
    /// Phase 2: the call succeeded.
    virtual void RecordPasswordEmailSent(const std::string& customer_id,
                                         core::Callback<void> done) = 0;

    /// Step "blocked" of a revocation (`blocked` true) or "unblocked" of a reinstatement;
    /// creates the customer's record (with `auth0_user_id`) if there is none.
    virtual void RecordBlocked(const std::string& customer_id, const std::string& auth0_user_id,
                               bool blocked, core::Callback<void> done) = 0;
    /// Step "roles removed" of a revocation: the roles must be assigned again on reinstatement.
    virtual void RecordRolesRemoved(const std::string& customer_id, core::Callback<void> done) = 0;
    /// The job's outcome ("created", "blocked", "superseded", …) and, for an event applied,
    /// its occurred_at as the customer's newest applied (`applied_ms`, 0: not applied).
    virtual void RecordOutcome(std::int64_t job_id, const std::string& customer_id,
                               const std::string& outcome, std::int64_t applied_ms,
                               core::Callback<void> done) = 0;
    /// In one transaction: the job is done, and if `event` is set it is inserted into the outbox
    /// and the customer marked published.
    virtual void CompleteJob(std::int64_t job_id, const std::string& customer_id,
                             const std::optional<OutboundEvent>& event,
                             core::Callback<void> done) = 0;
    /// The attempt failed and will be retried at `next_attempt_at`; `attempts` is the new count
    /// (a rate-limited attempt does not raise it). A kConflict error also counts one conflict.
    virtual void RescheduleJob(std::int64_t job_id, int attempts, core::TimePoint next_attempt_at,
                               const core::Error& error, core::Callback<void> done) = 0;
    /// The job is failed for good, kept for replay with its reason.
    virtual void FailJob(std::int64_t job_id, int attempts, const core::Error& error,
                         core::Callback<void> done) = 0;
};

}  // namespace kyc_bridge::provision
