// SPDX-License-Identifier: Apache-2.0
// The job state machine: one accepted event → Auth0 steps, each recorded → outbox row.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kyc_bridge/auth0/auth0_api.hpp"
#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/core/task.hpp"
#include "kyc_bridge/provision/email_slots.hpp"
#include "kyc_bridge/provision/job.hpp"
#include "kyc_bridge/provision/job_ledger.hpp"
#include "kyc_bridge/provision/role_batcher.hpp"

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
    int max_emails_in_flight = 16;            ///< provision.max_emails_in_flight
    std::string blocked_topic = "auth.user_blocked";
    bool remove_roles_on_revoke = true;  ///< deprovision.remove_roles
    bool publish_not_found = true;       ///< deprovision.publish_not_found
};

/// Written into app_metadata by the create call, so that a 409 on a user kyc-bridge created
/// (a crash between the create call and its record) continues as "created".
inline constexpr const char* kMarkerKey = "provisioned_by";
inline constexpr const char* kMarkerValue = "kyc-bridge";

/// How a run ended when it did not fail; a done run says which user and what became of it.
struct RunEnd {
    enum Kind { kDone, kParked };
    RunEnd(Kind k = kDone) : kind(k) {}  // NOLINT(google-explicit-constructor)
    friend bool operator==(const RunEnd& end, Kind k) { return end.kind == k; }

    Kind kind = kDone;
    std::string auth0_user_id;  ///< done: the customer's Auth0 user
    /// done: "created" | "existing" (this job made or adopted the user), "updated" (a later event)
    std::string outcome;
};

struct RunnerStats {
    /// Password emails whose effect was unknown when they were (or were taken as) sent: a job
    /// found in `sending` after a crash, or a call that timed out.
    std::atomic<std::uint64_t> password_emails_uncertain{0};
    std::atomic<std::uint64_t> password_emails_sent{0};
};

/// Runs jobs step by step, as C++20 coroutines over non-blocking Auth0 calls and ledger records:
/// ensure the user (create, or resolve a 409 by id, then by email), apply the profile, assign
/// roles, send the password-setup email (two-phase record, at most max_emails_in_flight calls in
/// flight), complete with the outbox row. Every step's record is durable before the next step
/// starts, so a restart resumes after the last recorded step. Knows nothing of HTTP, Kafka or SQL.
/// Thread-safe: any number of jobs (of different customers) run at once, no thread each.
class JobRunner {
public:
    /// `roles` assigns roles (a RoleBatcher in the daemon); null: one call per user.
    JobRunner(auth0::Auth0Api& api, JobLedger& ledger, const core::Clock& clock,
              RunnerSettings settings, RoleAssigner* roles = nullptr);

    using Finished = std::function<void(core::Result<RunEnd>)>;
    /// Starts `job` and returns; `finished` runs once with how it ended: done, the first failing
    /// step's classified Error, or parked (stop became true between steps, or Close()).
    void Start(const Job& job, const std::atomic<bool>& stop, Finished finished);
    /// Start and wait (tests, tools). Not from a callback.
    core::Result<RunEnd> Run(const Job& job, const std::atomic<bool>& stop);
    /// Shutdown: jobs waiting for an email slot park.
    void Close() { email_slots_.Close(); }

    const RunnerStats& stats() const { return stats_; }
    const EmailSlots& email_slots() const { return email_slots_; }

private:
    /// What this process knows about a customer's email beyond the store: after a call whose
    /// record failed (the email went out) and after a definite refusal (it did not).
    enum class EmailNote { kSentUnrecorded, kNotSent };

    core::Detached Flow(Job job, const std::atomic<bool>& stop, Finished finished);
    core::Task<core::Result<RunEnd>> Steps(const Job& job, const std::atomic<bool>& stop);
    core::Task<core::Status> EnsureUser(const Job& job, CustomerAccount& account);
    core::Task<core::Result<auth0::User>> ResolveConflict(const Job& job);
    core::Task<core::Status> ApplyProfile(const Job& job, const CustomerAccount& account);
    core::Task<core::Status> AssignRoles(CustomerAccount& account);
    core::Task<core::Status> SendPasswordSetup(const Job& job, CustomerAccount& account);
    /// Phase 2 of the email; a failed record is noted, so the next attempt records, not resends.
    core::Task<core::Status> RecordEmailSent(CustomerAccount& account);
    core::Task<core::Status> Complete(const Job& job, const CustomerAccount& account);
    /// A revocation: block the user, mark it REVOKED, remove kyc-bridge's roles, publish
    /// auth.user_blocked; a customer without an Auth0 user ends not_found.
    core::Task<core::Result<RunEnd>> Revoke(const Job& job, CustomerAccount& account);
    /// A verify for a customer kyc-bridge blocked: unblock, restore the roles, no new password
    /// email, publish auth.user_created with outcome "reinstated".
    core::Task<core::Result<RunEnd>> Reinstate(const Job& job, CustomerAccount& account);
    /// Older than the newest event applied for the customer: recorded, not applied.
    core::Task<core::Result<RunEnd>> Supersede(const Job& job, const CustomerAccount& account);
    core::Task<core::Status> RecordOutcome(const Job& job, const std::string& outcome,
                                           bool applied);
    bool NeedsPasswordEmail(const CustomerAccount& account) const;
    nlohmann::json DesiredAppMetadata(const Job& job) const;
    std::optional<EmailNote> TakeNote(const std::string& customer_id);
    void Note(const std::string& customer_id, EmailNote note);

    auth0::Auth0Api& api_;
    JobLedger& ledger_;
    const core::Clock& clock_;
    RunnerSettings settings_;
    std::unique_ptr<PerUserRoleAssigner> own_roles_;
    RoleAssigner& roles_;
    EmailSlots email_slots_;
    RunnerStats stats_;
    std::mutex notes_mutex_;
    std::map<std::string, EmailNote> email_notes_;
};

}  // namespace kyc_bridge::provision
