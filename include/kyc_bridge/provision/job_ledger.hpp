// SPDX-License-Identifier: Apache-2.0
// The provisioner's view of durable state: claim jobs, record each completed Auth0 step.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kyc_bridge/core/error.hpp"
#include "kyc_bridge/provision/job.hpp"

namespace kyc_bridge::provision {

/// Durable job state. Every Record… call is one transaction that is durable when it returns ok;
/// a failure is kTransient (SQLITE_BUSY, I/O error, disk full). Thread-safe.
class JobLedger {
public:
    virtual ~JobLedger() = default;

    /// Up to `limit` pending jobs that are due at `now`, each the oldest pending job of its
    /// customer, skipping customers in `busy_customers`; oldest first.
    virtual core::Result<std::vector<Job>> DueJobs(core::TimePoint now, std::size_t limit,
                                                   const std::set<std::string>& busy_customers) = 0;
    /// The earliest next_attempt_at of any pending job, if there is one.
    virtual core::Result<std::optional<core::TimePoint>> NextDueTime() = 0;

    virtual core::Result<std::optional<CustomerAccount>> LoadAccount(
        const std::string& customer_id) = 0;
    /// Step "created": the Auth0 user of this customer and whether kyc-bridge created it.
    virtual core::Status RecordUser(const std::string& customer_id, const std::string& auth0_user_id,
                                    const std::string& outcome) = 0;
    virtual core::Status RecordRolesAssigned(const std::string& customer_id) = 0;
    virtual core::Status RecordPasswordSetupSent(const std::string& customer_id) = 0;
    virtual core::Status RecordProfileApplied(std::int64_t job_id) = 0;

    /// In one transaction: the job is done, and if `event` is set it is inserted into the outbox
    /// and the customer marked published.
    virtual core::Status CompleteJob(std::int64_t job_id, const std::string& customer_id,
                                     const std::optional<OutboundEvent>& event) = 0;
    /// The attempt failed and will be retried at `next_attempt_at`; `attempts` is the new count.
    virtual core::Status RescheduleJob(std::int64_t job_id, int attempts,
                                       core::TimePoint next_attempt_at,
                                       const core::Error& error) = 0;
    /// The job is failed for good, kept for replay with its reason.
    virtual core::Status FailJob(std::int64_t job_id, int attempts, const core::Error& error) = 0;
};

}  // namespace kyc_bridge::provision
