// SPDX-License-Identifier: Apache-2.0
// The job state machine: one accepted event → Auth0 steps, each recorded → outbox row.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "kyc_bridge/auth0/auth0_api.hpp"
#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/provision/job.hpp"
#include "kyc_bridge/provision/job_ledger.hpp"

namespace kyc_bridge::provision {

enum class PasswordSetup { kChangePasswordEmail, kVerificationEmail, kNone };

/// Parses "change_password_email" | "verification_email" | "none"; throws std::invalid_argument.
PasswordSetup ParsePasswordSetup(const std::string& mode);

struct RunnerSettings {
    std::string connection = "Username-Password-Authentication";
    std::vector<std::string> role_names;  ///< as published in auth.user_created
    std::vector<std::string> role_ids;    ///< resolved once at start-up
    PasswordSetup password_setup = PasswordSetup::kChangePasswordEmail;
    std::string email_client_id;
    std::string output_topic = "auth.user_created";
    std::string event_source = "kyc-bridge";  ///< CloudEvents ce_source
};

/// Written into app_metadata by the create call, so that a 409 on a user kyc-bridge created
/// (a crash between the create call and its record) continues as "created".
inline constexpr const char* kMarkerKey = "provisioned_by";
inline constexpr const char* kMarkerValue = "kyc-bridge";

/// How a run ended when it did not fail.
enum class RunEnd { kDone, kParked };

/// Runs jobs step by step: ensure the user (create, or resolve a 409 by id, then by email),
/// apply the profile, assign roles, send the password-setup email, complete with the outbox
/// row. Every finished step is recorded before the next starts, so a restart resumes after the
/// last recorded step. Knows nothing of HTTP, Kafka or SQL. Thread-safe (no mutable state).
class JobRunner {
public:
    JobRunner(auth0::Auth0Api& api, JobLedger& ledger, const core::Clock& clock,
              RunnerSettings settings);

    /// Runs `job` until done, the first failing step (its classified Error), or — if `stop`
    /// becomes true between steps — parked (nothing half-recorded).
    core::Result<RunEnd> Run(const Job& job, const std::atomic<bool>& stop) const;

private:
    core::Status EnsureUser(const Job& job, CustomerAccount& account) const;
    core::Result<auth0::User> ResolveConflict(const Job& job) const;
    core::Status ApplyProfile(const Job& job, const CustomerAccount& account) const;
    core::Status AssignRoles(CustomerAccount& account) const;
    core::Status SendPasswordSetup(const Job& job, CustomerAccount& account) const;
    core::Status Complete(const Job& job, const CustomerAccount& account) const;
    nlohmann::json DesiredAppMetadata(const Job& job) const;

    auth0::Auth0Api& api_;
    JobLedger& ledger_;
    const core::Clock& clock_;
    RunnerSettings settings_;
    /// One password email at a time, from the call until its record: a kill -9 can then catch
    /// only one email sent but not recorded, so a crash repeats at most one email (issue #3).
    /// The cost is one Authentication API call in flight, far above the tenant's rate anyway.
    mutable std::mutex password_email_mutex_;
};

}  // namespace kyc_bridge::provision
