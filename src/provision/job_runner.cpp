// SPDX-License-Identifier: Apache-2.0
// The provisioning steps, one coroutine each. Each is one Auth0 call (409 resolution: up to three
// reads) followed by its record in the ledger.
#include "kyc_bridge/provision/job_runner.hpp"

#include <future>
#include <stdexcept>

#include "kyc_bridge/core/ids.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "kyc_bridge/events/user_created.hpp"

namespace kyc_bridge::provision {
namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

using core::Await;
using core::Callback;
using core::Status;
using core::Task;

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

// No answer, or an answer lost: Auth0 may have sent the email. ("shutdown_unsent": the request
// never left the process.)
bool Ambiguous(const Error& error) {
    return error.http_status == 0 && (error.code == "timeout" || error.code == "shutdown");
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
                     RunnerSettings settings, RoleAssigner* roles)
    : api_(api),
      ledger_(ledger),
      clock_(clock),
      settings_(std::move(settings)),
      own_roles_(roles ? nullptr : std::make_unique<PerUserRoleAssigner>(api, settings_.role_ids)),
      roles_(roles ? *roles : *own_roles_),
      email_slots_(settings_.max_emails_in_flight) {}

void JobRunner::Start(const Job& job, const std::atomic<bool>& stop, Finished finished) {
    Flow(job, stop, std::move(finished));
}

core::Result<RunEnd> JobRunner::Run(const Job& job, const std::atomic<bool>& stop) {
    std::promise<core::Result<RunEnd>> ended;
    auto result = ended.get_future();
    Start(job, stop, [&ended](core::Result<RunEnd> r) { ended.set_value(std::move(r)); });
    return result.get();
}

core::Detached JobRunner::Flow(Job job, const std::atomic<bool>& stop, Finished finished) {
    auto result = co_await Steps(job, stop);
    finished(std::move(result));
}

Task<core::Result<RunEnd>> JobRunner::Steps(const Job& job, const std::atomic<bool>& stop) {
    auto loaded = ledger_.LoadAccount(job.event.customer_id);
    if (!loaded) co_return loaded.error();
    CustomerAccount account;
    account.customer_id = job.event.customer_id;
    if (loaded->has_value()) account = **loaded;
    const bool was_published = account.published;  // an earlier job made the user: an update

    if (account.auth0_user_id.empty()) {
        auto user = co_await EnsureUser(job, account);
        if (!user) co_return user.error();
    } else if (!job.profile_applied) {
        // A later event for a provisioned customer (or a resumed one): bring the profile up to date.
        auto profile = co_await ApplyProfile(job, account);
        if (!profile) co_return profile.error();
    }
    if (stop) co_return RunEnd::kParked;
    auto roles = co_await AssignRoles(account);
    if (!roles) co_return roles.error();
    if (stop) co_return RunEnd::kParked;
    if (NeedsPasswordEmail(account)) {
        auto slot = co_await Await<bool>([this](Callback<bool> done) {
            email_slots_.Acquire([done](bool granted) { done(granted); });
        });
        if (!*slot) co_return RunEnd::kParked;
        auto email = co_await SendPasswordSetup(job, account);
        email_slots_.Release();
        if (!email) co_return email.error();
    }
    auto completed = co_await Complete(job, account);
    if (!completed) co_return completed.error();
    RunEnd done{RunEnd::kDone};
    done.auth0_user_id = account.auth0_user_id;
    done.outcome = was_published ? "updated" : account.outcome;
    co_return done;
}

json JobRunner::DesiredAppMetadata(const Job& job) const {
    return {{"customer_id", job.event.customer_id},
            {"kyc_status", job.event.kyc_status},
            {"kyc_verified_at", job.event.occurred_at}};
}

Task<Status> JobRunner::EnsureUser(const Job& job, CustomerAccount& account) {
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

    auto created = co_await Await<auth0::User>(
        [&](Callback<auth0::User> done) { api_.CreateUser(user, std::move(done)); });
    core::Cleanse(user.password);  // the body holding it is cleansed by the client
    std::string outcome = kCreated;
    auth0::User found;
    if (created) {
        found = *created;
    } else if (created.error().kind == ErrorKind::kConflict) {
        auto resolved = co_await ResolveConflict(job);
        if (!resolved) co_return resolved.error();
        found = *resolved;
        bool ours = HasMarker(found) && MetadataCustomerId(found) == event.customer_id;
        outcome = ours ? kCreated : kExisting;
        auto patch = ProfileDiff(found, event, DesiredAppMetadata(job));
        if (!patch.empty()) {
            auto patched = co_await Await<void>([&](Callback<void> done) {
                api_.UpdateUser(found.user_id, patch, std::move(done));
            });
            if (!patched) co_return patched;
        }
    } else {
        co_return created.error();
    }
    auto recorded = co_await Await<void>([&](Callback<void> done) {
        ledger_.RecordUser(job.job_id, event.customer_id, found.user_id, outcome, std::move(done));
    });
    if (!recorded) co_return recorded;
    account.auth0_user_id = found.user_id;
    account.outcome = outcome;
    co_return Status{};
}

Task<core::Result<auth0::User>> JobRunner::ResolveConflict(const Job& job) {
    const auto& event = job.event;
    // A database connection prefixes the given user_id with "auth0|" (Auth0 support article
    // "Modify user ID format").
    const std::string id = "auth0|" + event.customer_id;
    auto by_id = co_await Await<std::optional<auth0::User>>(
        [&](Callback<std::optional<auth0::User>> done) { api_.GetUser(id, std::move(done)); });
    if (!by_id) co_return by_id.error();
    if (by_id->has_value()) co_return **by_id;

    // The email is taken by a user with another id (created by hand or by an earlier tool).
    auto by_email = co_await Await<std::vector<auth0::User>>(
        [&](Callback<std::vector<auth0::User>> done) {
            api_.GetUsersByEmail(event.email, std::move(done));
        });
    if (!by_email) co_return by_email.error();
    const auth0::User* candidate = nullptr;
    for (const auto& user : *by_email) {
        if (user.connection == settings_.connection) {
            candidate = &user;
            break;
        }
    }
    if (!candidate) {
        // Auth0 answers 409 for "half-created" users no read finds: retry a few times, then a
        // person looks at it.
        co_return Error{ErrorKind::kConflict,
                        "create answered 409 but neither GET /api/v2/users/{id} nor users-by-email "
                        "finds the user",
                        "conflict_unresolved", 409, std::nullopt};
    }
    auto owner = MetadataCustomerId(*candidate);
    if (!owner.empty() && owner != event.customer_id) {
        // The other customer's ids stay out of this job's error (logged, stored, shown by the
        // CLI to whoever looks at this customer): an operator finds the owner in Auth0 by email.
        co_return Error{ErrorKind::kPermanent,
                        "the email already belongs to an Auth0 user mapped to another customer; "
                        "look the email up in Auth0 to find who holds it",
                        "email_owned_by_other_customer", 409, std::nullopt};
    }
    co_return *candidate;
}

Task<Status> JobRunner::ApplyProfile(const Job& job, const CustomerAccount& account) {
    json patch = {{"app_metadata", DesiredAppMetadata(job)}};
    if (job.event.given_name) patch["given_name"] = *job.event.given_name;
    if (job.event.family_name) patch["family_name"] = *job.event.family_name;
    auto patched = co_await Await<void>([&](Callback<void> done) {
        api_.UpdateUser(account.auth0_user_id, patch, std::move(done));
    });
    if (!patched) co_return patched;
    co_return co_await Await<void>(
        [&](Callback<void> done) { ledger_.RecordProfileApplied(job.job_id, std::move(done)); });
}

Task<Status> JobRunner::AssignRoles(CustomerAccount& account) {
    if (account.roles_assigned) co_return Status{};
    auto assigned = co_await Await<void>(
        [&](Callback<void> done) { roles_.Assign(account.auth0_user_id, std::move(done)); });
    if (!assigned) co_return assigned;
    auto recorded = co_await Await<void>([&](Callback<void> done) {
        ledger_.RecordRolesAssigned(account.customer_id, std::move(done));
    });
    if (!recorded) co_return recorded;
    account.roles_assigned = true;
    co_return Status{};
}

bool JobRunner::NeedsPasswordEmail(const CustomerAccount& account) const {
    // Only for users kyc-bridge created, only once per user; verification_email rode on the
    // create call.
    return account.outcome == kCreated && !account.password_setup_sent &&
           settings_.password_setup == PasswordSetup::kChangePasswordEmail;
}

std::optional<JobRunner::EmailNote> JobRunner::TakeNote(const std::string& customer_id) {
    std::lock_guard lock(notes_mutex_);
    auto it = email_notes_.find(customer_id);
    if (it == email_notes_.end()) return std::nullopt;
    auto note = it->second;
    email_notes_.erase(it);
    return note;
}

void JobRunner::Note(const std::string& customer_id, EmailNote note) {
    std::lock_guard lock(notes_mutex_);
    email_notes_[customer_id] = note;
}

// Two-phase: `sending` is durable before the call, `sent` after it. The caller holds an email
// slot throughout, so a kill -9 leaves at most max_emails_in_flight jobs whose call may have
// succeeded unrecorded; only those repeat their email after a restart.
Task<Status> JobRunner::SendPasswordSetup(const Job& job, CustomerAccount& account) {
    const auto& customer = account.customer_id;
    auto log = core::Logger("provisioner");
    const auto note = TakeNote(customer);
    if (note == EmailNote::kSentUnrecorded) {
        // The email went out in this process and only its record failed: retry the record,
        // never the email.
        co_return co_await RecordEmailSent(account);
    }
    if (account.password_email_sending && note != EmailNote::kNotSent) {
        ++stats_.password_emails_uncertain;
        log->warn("event=password_email_uncertain job_id={} customer_id={} cause=restart "
                  "action=resend hint=\"a previous run may have sent it; the customer may get "
                  "two invitations\"",
                  job.job_id, customer);
    }
    if (!account.password_email_sending) {
        auto sending = co_await Await<void>([&](Callback<void> done) {
            ledger_.RecordPasswordEmailSending(customer, std::move(done));
        });
        if (!sending) co_return sending;
        account.password_email_sending = true;
    }
    auto sent = co_await Await<void>([&](Callback<void> done) {
        api_.SendPasswordChangeEmail(job.event.email, settings_.connection,
                                     settings_.email_client_id, std::move(done));
    });
    if (!sent) {
        if (!Ambiguous(sent.error())) {
            Note(customer, EmailNote::kNotSent);
            co_return sent;
        }
        // No answer: Auth0 may have sent it. Taken as sent (only a restart repeats an email).
        ++stats_.password_emails_uncertain;
        log->warn("event=password_email_uncertain job_id={} customer_id={} cause={} "
                  "action=record_as_sent",
                  job.job_id, customer, sent.error().code);
    } else {
        ++stats_.password_emails_sent;
    }
    co_return co_await RecordEmailSent(account);
}

Task<Status> JobRunner::RecordEmailSent(CustomerAccount& account) {
    auto recorded = co_await Await<void>([&](Callback<void> done) {
        ledger_.RecordPasswordEmailSent(account.customer_id, std::move(done));
    });
    if (!recorded) {
        Note(account.customer_id, EmailNote::kSentUnrecorded);  // the next attempt records only
        co_return recorded;
    }
    account.password_setup_sent = true;
    co_return Status{};
}

Task<Status> JobRunner::Complete(const Job& job, const CustomerAccount& account) {
    std::optional<OutboundEvent> outbound;
    if (!account.published) {
        events::UserCreated created{account.customer_id,
                                    account.auth0_user_id,
                                    settings_.role_names,
                                    account.outcome,
                                    job.event.event_id,
                                    events::FormatRfc3339(core::ToUnixMillis(clock_.Now()))};
        outbound = OutboundEvent{
            events::UserCreatedEventId(account.customer_id, account.auth0_user_id),
            settings_.output_topic, account.customer_id, events::UserCreatedPayload(created),
            events::UserCreatedHeaders(created, settings_.event_source)};
    }
    co_return co_await Await<void>([&](Callback<void> done) {
        ledger_.CompleteJob(job.job_id, account.customer_id, outbound, std::move(done));
    });
}

}  // namespace kyc_bridge::provision
