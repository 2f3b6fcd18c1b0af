// SPDX-License-Identifier: Apache-2.0
// The provisioning steps. Each is one Auth0 call (409 resolution: up to three reads) followed
// by its record in the ledger.
#include "kyc_bridge/provision/job_runner.hpp"

#include <stdexcept>

#include "kyc_bridge/core/ids.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "kyc_bridge/events/user_created.hpp"

namespace kyc_bridge::provision {
namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

constexpr const char* kCreated = "created";
constexpr const char* kExisting = "existing";

bool HasMarker(const auth0::User& user) {
    auto it = user.app_metadata.find(kMarkerKey);
    return it != user.app_metadata.end() && *it == kMarkerValue;
}

std::string MetadataCustomerId(const auth0::User& user) {
    auto it = user.app_metadata.find("customer_id");
    return it != user.app_metadata.end() && it->is_string() ? it->get<std::string>() : "";
}

// "update what differs": only the first-level keys whose value is not already there, because
// Auth0 merges app_metadata at the first level (Management API v2, PATCH /api/v2/users/{id}).
json ProfileDiff(const auth0::User& user, const events::KycVerified& event, const json& desired) {
    json patch = json::object();
    json metadata = json::object();
    for (const auto& [key, value] : desired.items()) {
        auto it = user.app_metadata.find(key);
        if (it == user.app_metadata.end() || *it != value) metadata[key] = value;
    }
    if (!metadata.empty()) patch["app_metadata"] = metadata;
    if (event.given_name && user.given_name != event.given_name) patch["given_name"] = *event.given_name;
    if (event.family_name && user.family_name != event.family_name) {
        patch["family_name"] = *event.family_name;
    }
    return patch;
}

}  // namespace

std::string_view ToString(JobState state) {
    switch (state) {
        case JobState::kPending: return "pending";
        case JobState::kDone: return "done";
        case JobState::kFailed: return "failed";
    }
    return "unknown";
}

PasswordSetup ParsePasswordSetup(const std::string& mode) {
    if (mode == "change_password_email") return PasswordSetup::kChangePasswordEmail;
    if (mode == "verification_email") return PasswordSetup::kVerificationEmail;
    if (mode == "none") return PasswordSetup::kNone;
    throw std::invalid_argument("unknown password_setup '" + mode + "'");
}

JobRunner::JobRunner(auth0::Auth0Api& api, JobLedger& ledger, const core::Clock& clock,
                     RunnerSettings settings)
    : api_(api), ledger_(ledger), clock_(clock), settings_(std::move(settings)) {}

core::Result<RunEnd> JobRunner::Run(const Job& job, const std::atomic<bool>& stop) const {
    auto loaded = ledger_.LoadAccount(job.event.customer_id);
    if (!loaded) return loaded.error();
    CustomerAccount account;
    account.customer_id = job.event.customer_id;
    if (loaded->has_value()) account = **loaded;

    if (account.auth0_user_id.empty()) {
        if (auto s = EnsureUser(job, account); !s) return s.error();
    } else if (!job.profile_applied) {
        // A later event for a provisioned customer (or a resumed one): bring the profile up to date.
        if (auto s = ApplyProfile(job, account); !s) return s.error();
    }
    if (stop) return RunEnd::kParked;
    if (auto s = AssignRoles(account); !s) return s.error();
    if (stop) return RunEnd::kParked;
    if (auto s = SendPasswordSetup(job, account); !s) return s.error();
    if (auto s = Complete(job, account); !s) return s.error();
    return RunEnd::kDone;
}

json JobRunner::DesiredAppMetadata(const Job& job) const {
    return {{"customer_id", job.event.customer_id},
            {"kyc_status", job.event.kyc_status},
            {"kyc_verified_at", job.event.occurred_at}};
}

core::Status JobRunner::EnsureUser(const Job& job, CustomerAccount& account) const {
    const auto& event = job.event;
    auth0::NewUser user;
    user.user_id = event.customer_id;
    user.connection = settings_.connection;
    user.email = event.email;
    user.password = core::RandomPassword();
    user.given_name = event.given_name;
    user.family_name = event.family_name;
    user.app_metadata = DesiredAppMetadata(job);
    user.app_metadata[kMarkerKey] = kMarkerValue;
    // verify_email:false unless that is the chosen password set-up: otherwise Auth0 sends an
    // unwanted verification email (CreateUserRequestContent, "verify_email").
    user.verify_email = settings_.password_setup == PasswordSetup::kVerificationEmail;

    auto created = api_.CreateUser(user);
    std::string outcome = kCreated;
    auth0::User found;
    if (created) {
        found = *created;
    } else if (created.error().kind == ErrorKind::kConflict) {
        auto resolved = ResolveConflict(job);
        if (!resolved) return resolved.error();
        found = *resolved;
        bool ours = HasMarker(found) && MetadataCustomerId(found) == event.customer_id;
        outcome = ours ? kCreated : kExisting;
        auto patch = ProfileDiff(found, event, DesiredAppMetadata(job));
        if (!patch.empty()) {
            if (auto s = api_.UpdateUser(found.user_id, patch); !s) return s;
        }
    } else {
        return created.error();
    }
    if (auto s = ledger_.RecordUser(event.customer_id, found.user_id, outcome); !s) return s;
    account.auth0_user_id = found.user_id;
    account.outcome = outcome;
    return ledger_.RecordProfileApplied(job.job_id);
}

core::Result<auth0::User> JobRunner::ResolveConflict(const Job& job) const {
    const auto& event = job.event;
    // A database connection prefixes the given user_id with "auth0|" (Auth0 support article
    // "Modify user ID format").
    auto by_id = api_.GetUser("auth0|" + event.customer_id);
    if (!by_id) return by_id.error();
    if (by_id->has_value()) return **by_id;

    // The email is taken by a user with another id (created by hand or by an earlier tool).
    auto by_email = api_.GetUsersByEmail(event.email);
    if (!by_email) return by_email.error();
    const auth0::User* candidate = nullptr;
    for (const auto& user : *by_email) {
        if (user.connection == settings_.connection) { candidate = &user; break; }
    }
    if (!candidate) {
        // Auth0 answers 409 for "half-created" users no read finds: retry a few times, then a
        // person looks at it.
        return Error{ErrorKind::kConflict,
                     "create answered 409 but neither GET /api/v2/users/{id} nor users-by-email "
                     "finds the user",
                     "conflict_unresolved", 409, std::nullopt};
    }
    auto owner = MetadataCustomerId(*candidate);
    if (!owner.empty() && owner != event.customer_id) {
        return Error{ErrorKind::kPermanent,
                     "the email belongs to Auth0 user " + candidate->user_id +
                         ", already mapped to another customer",
                     "email_owned_by_other_customer", 409, std::nullopt};
    }
    return *candidate;
}

core::Status JobRunner::ApplyProfile(const Job& job, const CustomerAccount& account) const {
    json patch = {{"app_metadata", DesiredAppMetadata(job)}};
    if (job.event.given_name) patch["given_name"] = *job.event.given_name;
    if (job.event.family_name) patch["family_name"] = *job.event.family_name;
    if (auto s = api_.UpdateUser(account.auth0_user_id, patch); !s) return s;
    return ledger_.RecordProfileApplied(job.job_id);
}

core::Status JobRunner::AssignRoles(CustomerAccount& account) const {
    if (account.roles_assigned) return {};
    if (!settings_.role_ids.empty()) {
        if (auto s = api_.AssignRoles(account.auth0_user_id, settings_.role_ids); !s) return s;
    }
    if (auto s = ledger_.RecordRolesAssigned(account.customer_id); !s) return s;
    account.roles_assigned = true;
    return {};
}

core::Status JobRunner::SendPasswordSetup(const Job& job, CustomerAccount& account) const {
    // Only for users kyc-bridge created, only once per user; verification_email rode on the
    // create call.
    if (account.outcome != kCreated || account.password_setup_sent ||
        settings_.password_setup != PasswordSetup::kChangePasswordEmail) {
        return {};
    }
    std::lock_guard one_email_in_flight(password_email_mutex_);
    if (auto s = api_.SendPasswordChangeEmail(job.event.email, settings_.connection,
                                              settings_.email_client_id);
        !s) {
        return s;
    }
    if (auto s = ledger_.RecordPasswordSetupSent(account.customer_id); !s) return s;
    account.password_setup_sent = true;
    return {};
}

core::Status JobRunner::Complete(const Job& job, const CustomerAccount& account) const {
    std::optional<OutboundEvent> outbound;
    if (!account.published) {
        events::UserCreated created{account.customer_id,
                                    account.auth0_user_id,
                                    settings_.role_names,
                                    account.outcome,
                                    job.event.event_id,
                                    events::FormatRfc3339(core::ToUnixMillis(clock_.Now()))};
        outbound = OutboundEvent{events::UserCreatedEventId(account.customer_id, account.auth0_user_id),
                                 settings_.output_topic, account.customer_id,
                                 events::UserCreatedPayload(created),
                                 events::UserCreatedHeaders(created, settings_.event_source)};
    }
    return ledger_.CompleteJob(job.job_id, account.customer_id, outbound);
}

}  // namespace kyc_bridge::provision
