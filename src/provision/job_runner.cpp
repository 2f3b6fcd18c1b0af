// SPDX-License-Identifier: Apache-2.0
// The provisioning steps, one coroutine each. Each is one Auth0 call (409 resolution: up to three
// reads) followed by its record in the ledger.
#include "kyc_bridge/provision/job_runner.hpp"

#include <future>
#include <stdexcept>

#include "kyc_bridge/core/ids.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "kyc_bridge/events/kyc_revoked.hpp"
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
    // Per customer, the newest event applied wins, across both topics: a verify older than a
    // revoke already applied (another partition, a slow producer) never reactivates anyone.
    if (account.last_applied_ms > events::OccurredAtMillis(job.event.occurred_at)) {
        co_return co_await Supersede(job, account);
    }
    if (job.kind == JobKind::kRevoke) co_return co_await Revoke(job, account);
    if (account.blocked) co_return co_await Reinstate(job, account);

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
    RunEnd done{RunEnd::kDone};
    done.auth0_user_id = account.auth0_user_id;
    done.outcome = was_published ? "updated" : account.outcome;
    auto outcome = co_await RecordOutcome(job, done.outcome, true);
    if (!outcome) co_return outcome.error();
    auto completed = co_await Complete(job, account);
    if (!completed) co_return completed.error();
    co_return done;
}

Task<Status> JobRunner::RecordOutcome(const Job& job, const std::string& outcome, bool applied) {
    const auto applied_ms = applied ? events::OccurredAtMillis(job.event.occurred_at) : 0;
    co_return co_await Await<void>([&](Callback<void> done) {
        ledger_.RecordOutcome(job.job_id, job.event.customer_id, outcome, applied_ms,
                              std::move(done));
    });
}

Task<core::Result<RunEnd>> JobRunner::Supersede(const Job& job, const CustomerAccount& account) {
    core::Logger("provisioner")
        ->info("event=job_superseded job_id={} event_id={} customer_id={} kind={}", job.job_id,
               job.event.event_id, job.event.customer_id,
               job.kind == JobKind::kRevoke ? "revoke" : "verify");
    auto recorded = co_await RecordOutcome(job, "superseded", false);
    if (!recorded) co_return recorded.error();
    auto completed = co_await Await<void>([&](Callback<void> done) {
        ledger_.CompleteJob(job.job_id, job.event.customer_id, std::nullopt, std::move(done));
    });
    if (!completed) co_return completed.error();
    RunEnd end{RunEnd::kDone};
    end.auth0_user_id = account.auth0_user_id;
    end.outcome = "superseded";
    co_return end;
}

Task<core::Result<RunEnd>> JobRunner::Revoke(const Job& job, CustomerAccount& account) {
    const auto& customer = job.event.customer_id;
    // Always read first: the user may be unknown to Auth0 (never provisioned, or deleted by
    // hand), which ends the job as not_found instead of failing it in a loop. The user id is
    // derived from the customer id (the create call's user_id), so another store's customer is
    // found too.
    const auto user_id = account.auth0_user_id.empty() ? "auth0|" + customer : account.auth0_user_id;
    auto found = co_await Await<std::optional<auth0::User>>(
        [&](Callback<std::optional<auth0::User>> done) { api_.GetUser(user_id, std::move(done)); });
    if (!found) co_return found.error();
    std::string outcome = "not_found";
    if (found->has_value()) {
        outcome = "blocked";
        const auto& user = **found;
        if (!account.blocked || user.app_metadata.value("kyc_status", "") != "REVOKED") {
            // One PATCH: blocked, and the status the post-login Action denies on.
            json patch = {{"blocked", true},
                          {"app_metadata",
                           {{"kyc_status", "REVOKED"}, {"revoked_at", job.event.occurred_at}}}};
            auto patched = co_await Await<void>([&](Callback<void> done) {
                api_.UpdateUser(user.user_id, patch, std::move(done));
            });
            if (!patched) co_return patched.error();
            auto recorded = co_await Await<void>([&](Callback<void> done) {
                ledger_.RecordBlocked(customer, user.user_id, true, std::move(done));
            });
            if (!recorded) co_return recorded.error();
            account.blocked = true;
            account.auth0_user_id = user.user_id;
        }
        if (settings_.remove_roles_on_revoke && account.roles_assigned && !settings_.role_ids.empty()) {
            auto removed = co_await Await<void>([&](Callback<void> done) {
                api_.RemoveRoles(user.user_id, settings_.role_ids, std::move(done));
            });
            if (!removed) co_return removed.error();
            auto recorded = co_await Await<void>([&](Callback<void> done) {
                ledger_.RecordRolesRemoved(customer, std::move(done));
            });
            if (!recorded) co_return recorded.error();
            account.roles_assigned = false;
        }
    }
    auto recorded = co_await RecordOutcome(job, outcome, true);
    if (!recorded) co_return recorded.error();
    std::optional<OutboundEvent> outbound;
    if (outcome == "blocked" || settings_.publish_not_found) {
        events::UserBlocked blocked{customer,
                                    outcome == "blocked" ? account.auth0_user_id : "",
                                    job.revoke_reason,
                                    outcome,
                                    job.event.event_id,
                                    events::FormatRfc3339(core::ToUnixMillis(clock_.Now()))};
        outbound = OutboundEvent{events::UserBlockedEventId(customer, job.event.event_id),
                                 settings_.blocked_topic,
                                 customer,
                                 events::UserBlockedPayload(blocked),
                                 events::UserBlockedHeaders(blocked, settings_.event_source),
                                 false};
    }
    auto completed = co_await Await<void>([&](Callback<void> done) {
        ledger_.CompleteJob(job.job_id, customer, outbound, std::move(done));
    });
    if (!completed) co_return completed.error();
    RunEnd end{RunEnd::kDone};
    end.auth0_user_id = outcome == "blocked" ? account.auth0_user_id : "";
    end.outcome = outcome;
    co_return end;
}

Task<core::Result<RunEnd>> JobRunner::Reinstate(const Job& job, CustomerAccount& account) {
    const auto& customer = job.event.customer_id;
    json metadata = DesiredAppMetadata(job);
    metadata["revoked_at"] = nullptr;  // null deletes the key (first-level merge)
    json patch = {{"blocked", false}, {"app_metadata", metadata}};
    if (job.event.given_name) patch["given_name"] = *job.event.given_name;
    if (job.event.family_name) patch["family_name"] = *job.event.family_name;
    auto patched = co_await Await<void>([&](Callback<void> done) {
        api_.UpdateUser(account.auth0_user_id, patch, std::move(done));
    });
    if (!patched) co_return patched.error();
    auto unblocked = co_await Await<void>([&](Callback<void> done) {
        ledger_.RecordBlocked(customer, account.auth0_user_id, false, std::move(done));
    });
    if (!unblocked) co_return unblocked.error();
    account.blocked = false;
    auto roles = co_await AssignRoles(account);
    if (!roles) co_return roles.error();
    // No password email: the password is still theirs.
    auto recorded = co_await RecordOutcome(job, "reinstated", true);
    if (!recorded) co_return recorded.error();
    events::UserCreated created{customer,
                                account.auth0_user_id,
                                settings_.role_names,
                                "reinstated",
                                job.event.event_id,
                                events::FormatRfc3339(core::ToUnixMillis(clock_.Now()))};
    OutboundEvent outbound{
        events::UserCreatedEventId(customer, account.auth0_user_id, job.event.event_id),
        settings_.output_topic, customer, events::UserCreatedPayload(created),
        events::UserCreatedHeaders(created, settings_.event_source)};
    auto completed = co_await Await<void>([&](Callback<void> done) {
        ledger_.CompleteJob(job.job_id, customer, outbound, std::move(done));
    });
    if (!completed) co_return completed.error();
    RunEnd end{RunEnd::kDone};
    end.auth0_user_id = account.auth0_user_id;
    end.outcome = "reinstated";
    co_return end;
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
