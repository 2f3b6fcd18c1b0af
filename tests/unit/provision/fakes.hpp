// SPDX-License-Identifier: Apache-2.0
// In-memory Auth0 tenant and job ledger for state-machine tests, with crash injection. Both
// answer inside the call (the async interfaces allow it); the sync Do…/Record… methods hold the logic.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kyc_bridge/auth0/auth0_api.hpp"
#include "kyc_bridge/provision/job_ledger.hpp"

namespace kyc_bridge::provision::testing {

/// A pending job for `customer` as the inbox would hold it.
inline Job TestJob(std::int64_t id, const std::string& customer, const std::string& email,
                   const std::string& given_name = "Jane") {
    Job job;
    job.job_id = id;
    job.event.event_id = "evt-" + std::to_string(id);
    job.event.event_type = "customer.kyc_verified";
    job.event.occurred_at = "2026-11-22T10:00:00Z";
    job.event.customer_id = customer;
    job.event.kyc_status = "VERIFIED";
    job.event.email = email;
    job.event.given_name = given_name;
    return job;
}

/// A tiny Auth0: users by id and email, roles, emails sent; every call is logged.
class FakeAuth0 : public auth0::Auth0Api {
public:
    std::map<std::string, auth0::User> users;  // by user_id
    std::map<std::string, std::vector<std::string>> roles_of;
    std::vector<std::string> emails_sent;
    std::vector<std::string> calls;
    std::vector<std::vector<std::string>> batches;  // users of each role batch call
    std::vector<std::string> ghost_emails;       // 409 on create, invisible to reads
    std::optional<core::Error> fail_next;        // returned by the next call instead of acting
    bool last_verify_email = false;

    // The async interface: answered inside the call.
    void CreateUser(const auth0::NewUser& u, core::Callback<auth0::User> done) override {
        done(DoCreateUser(u));
    }
    void GetUser(const std::string& id, core::Callback<std::optional<auth0::User>> done) override {
        done(DoGetUser(id));
    }
    void GetUsersByEmail(const std::string& email,
                         core::Callback<std::vector<auth0::User>> done) override {
        done(DoGetUsersByEmail(email));
    }
    void UpdateUser(const std::string& id, const nlohmann::json& patch,
                    core::Callback<void> done) override {
        done(DoUpdateUser(id, patch));
    }
    void AssignRoles(const std::string& id, const std::vector<std::string>& roles,
                     core::Callback<void> done) override {
        done(DoAssignRoles(id, roles));
    }
    void RemoveRoles(const std::string& id, const std::vector<std::string>& roles,
                     core::Callback<void> done) override {
        calls.push_back("remove_roles");
        if (auto e = TakeFailure()) return done(*e);
        if (!users.count(id)) {
            return done(core::Error{core::ErrorKind::kTransient, "The user does not exist.",
                                    "inexistent_user", 404, std::nullopt});
        }
        auto& have = roles_of[id];
        for (const auto& role : roles) std::erase(have, role);
        done(core::Status{});
    }
    void AssignUsersToRole(const std::string& role,
                           std::function<std::vector<std::string>()> take_users,
                           core::Callback<void> done) override {
        done(DoAssignUsersToRole(role, take_users()));
    }
    void SendPasswordChangeEmail(const std::string& email, const std::string& connection,
                                 const std::string& client_id, core::Callback<void> done) override {
        done(DoSendPasswordChangeEmail(email, connection, client_id));
    }

    virtual core::Result<auth0::User> DoCreateUser(const auth0::NewUser& u) {
        calls.push_back("create");
        if (auto e = TakeFailure()) return *e;
        bool ghost = std::find(ghost_emails.begin(), ghost_emails.end(), u.email) != ghost_emails.end();
        auto id = "auth0|" + u.user_id;
        bool email_taken = std::any_of(users.begin(), users.end(),
                                       [&](const auto& kv) { return kv.second.email == u.email; });
        if (ghost || users.count(id) || email_taken) {
            return core::Error{core::ErrorKind::kConflict, "The user already exists.",
                               "auth0_idp_error", 409, std::nullopt};
        }
        last_verify_email = u.verify_email;
        auth0::User user{id, u.email, u.given_name, u.family_name, u.app_metadata, u.connection};
        users[id] = user;
        return user;
    }
    virtual core::Result<std::optional<auth0::User>> DoGetUser(const std::string& id) {
        calls.push_back("get");
        if (auto e = TakeFailure()) return *e;
        auto it = users.find(id);
        if (it == users.end()) return std::optional<auth0::User>{};
        return std::optional<auth0::User>{it->second};
    }
    virtual core::Result<std::vector<auth0::User>> DoGetUsersByEmail(const std::string& email) {
        calls.push_back("by_email");
        if (auto e = TakeFailure()) return *e;
        std::vector<auth0::User> found;
        for (auto& [id, u] : users) if (u.email == email) found.push_back(u);
        return found;
    }
    virtual core::Status DoUpdateUser(const std::string& id, const nlohmann::json& patch) {
        calls.push_back("patch");
        if (auto e = TakeFailure()) return *e;
        auto& u = users.at(id);
        if (patch.contains("app_metadata")) {
            for (auto& [k, v] : patch["app_metadata"].items()) u.app_metadata[k] = v;
        }
        if (patch.contains("given_name")) u.given_name = patch["given_name"].get<std::string>();
        if (patch.contains("family_name")) u.family_name = patch["family_name"].get<std::string>();
        return {};
    }
    virtual core::Status DoAssignRoles(const std::string& id, const std::vector<std::string>& roles) {
        calls.push_back("roles");
        if (auto e = TakeFailure()) return *e;
        if (!users.count(id)) {
            return core::Error{core::ErrorKind::kTransient, "The user does not exist.",
                               "inexistent_user", 404, std::nullopt};
        }
        Assign(id, roles);
        return {};
    }
    /// POST /api/v2/roles/{id}/users: all or nothing, 404 if any user is missing.
    virtual core::Status DoAssignUsersToRole(const std::string& role,
                                             const std::vector<std::string>& ids) {
        calls.push_back("role_batch");
        batches.push_back(ids);
        if (auto e = TakeFailure()) return *e;
        for (const auto& id : ids) {
            if (!users.count(id)) {
                return core::Error{core::ErrorKind::kPermanent,
                                   "One or more of the users do not exist.", "", 404,
                                   std::nullopt};
            }
        }
        for (const auto& id : ids) Assign(id, {role});
        return {};
    }
    virtual core::Status DoSendPasswordChangeEmail(const std::string& email, const std::string&,
                                                   const std::string&) {
        calls.push_back("email");
        if (auto e = TakeFailure()) return *e;
        emails_sent.push_back(email);
        return {};
    }
    core::Result<std::vector<auth0::Role>> FindRoles(const std::string&) override {
        return std::vector<auth0::Role>{};
    }
    core::Status Probe() override { return {}; }

protected:
    void Assign(const std::string& id, const std::vector<std::string>& roles) {
        auto& assigned = roles_of[id];
        for (auto& r : roles) {
            if (std::find(assigned.begin(), assigned.end(), r) == assigned.end()) assigned.push_back(r);
        }
    }
    std::optional<core::Error> TakeFailure() {
        auto e = fail_next;
        fail_next.reset();
        return e;
    }
};

/// The ledger in memory. `crash_on` names a Record… call that fails once ("user", "roles",
/// "password" = the `sent` record, "profile", "complete"), as if the process died after the
/// Auth0 call (the tests then run a new JobRunner: a restart).
class FakeLedger : public JobLedger {
public:
    std::map<std::string, CustomerAccount> accounts;
    std::map<std::int64_t, Job> jobs;
    std::vector<OutboundEvent> outbox;
    std::string crash_on;

    core::Result<std::vector<Job>> DueJobs(core::TimePoint, std::size_t,
                                           const std::set<std::string>&) override {
        return std::vector<Job>{};
    }
    core::Result<std::optional<core::TimePoint>> NextDueTime() override {
        return std::optional<core::TimePoint>{};
    }
    core::Result<std::optional<CustomerAccount>> LoadAccount(const std::string& id) override {
        auto it = accounts.find(id);
        if (it == accounts.end()) return std::optional<CustomerAccount>{};
        return std::optional<CustomerAccount>{it->second};
    }
    // The async interface: recorded inside the call.
    void RecordUser(std::int64_t job_id, const std::string& customer, const std::string& user,
                    const std::string& outcome, core::Callback<void> done) override {
        auto s = DoRecordUser(customer, user, outcome);
        if (s) s = DoRecordProfileApplied(job_id);
        done(s);
    }
    void RecordProfileApplied(std::int64_t job_id, core::Callback<void> done) override {
        done(DoRecordProfileApplied(job_id));
    }
    void RecordRolesAssigned(const std::string& customer, core::Callback<void> done) override {
        done(DoRecordRolesAssigned(customer));
    }
    void RecordPasswordEmailSending(const std::string& customer, core::Callback<void> done) override {
        done(DoRecordPasswordEmailSending(customer));
    }
    void RecordPasswordEmailSent(const std::string& customer, core::Callback<void> done) override {
        done(DoRecordPasswordSetupSent(customer));
    }
    void RecordBlocked(const std::string& customer, const std::string& user, bool blocked,
                       core::Callback<void> done) override {
        if (Crash("blocked")) return done(Crashed());
        auto& a = accounts[customer];
        a.customer_id = customer;
        if (a.auth0_user_id.empty()) a.auth0_user_id = user;
        a.blocked = blocked;
        done(core::Status{});
    }
    void RecordRolesRemoved(const std::string& customer, core::Callback<void> done) override {
        if (Crash("roles_removed")) return done(Crashed());
        accounts[customer].roles_assigned = false;
        done(core::Status{});
    }
    void RecordOutcome(std::int64_t job_id, const std::string& customer, const std::string& outcome,
                       std::int64_t applied_ms, core::Callback<void> done) override {
        if (Crash("outcome")) return done(Crashed());
        outcomes[job_id] = outcome;
        auto& a = accounts[customer];
        a.customer_id = customer;
        a.last_applied_ms = std::max(a.last_applied_ms, applied_ms);
        done(core::Status{});
    }
    std::map<std::int64_t, std::string> outcomes;
    void CompleteJob(std::int64_t job_id, const std::string& customer,
                     const std::optional<OutboundEvent>& event, core::Callback<void> done) override {
        done(DoCompleteJob(job_id, customer, event));
    }
    void RescheduleJob(std::int64_t job_id, int attempts, core::TimePoint at, const core::Error& e,
                       core::Callback<void> done) override {
        done(DoRescheduleJob(job_id, attempts, at, e));
    }
    void FailJob(std::int64_t job_id, int attempts, const core::Error& e,
                 core::Callback<void> done) override {
        done(DoFailJob(job_id, attempts, e));
    }

    virtual core::Status DoRecordUser(const std::string& customer, const std::string& user,
                                      const std::string& outcome) {
        if (Crash("user")) return Crashed();
        auto& a = accounts[customer];
        a.customer_id = customer;
        a.auth0_user_id = user;
        a.outcome = outcome;
        return {};
    }
    virtual core::Status DoRecordRolesAssigned(const std::string& customer) {
        if (Crash("roles")) return Crashed();
        accounts[customer].roles_assigned = true;
        return {};
    }
    virtual core::Status DoRecordPasswordEmailSending(const std::string& customer) {
        if (Crash("sending")) return Crashed();
        accounts[customer].password_email_sending = true;
        return {};
    }
    virtual core::Status DoRecordPasswordSetupSent(const std::string& customer) {
        if (Crash("password")) return Crashed();
        accounts[customer].password_setup_sent = true;
        return {};
    }
    virtual core::Status DoRecordProfileApplied(std::int64_t job_id) {
        if (Crash("profile")) return Crashed();
        jobs[job_id].profile_applied = true;
        return {};
    }
    virtual core::Status DoCompleteJob(std::int64_t job_id, const std::string& customer,
                                       const std::optional<OutboundEvent>& event) {
        if (Crash("complete")) return Crashed();
        jobs[job_id].state = JobState::kDone;
        if (event) {
            outbox.push_back(*event);
            if (event->announces_user) accounts[customer].published = true;
        }
        return {};
    }
    virtual core::Status DoRescheduleJob(std::int64_t, int, core::TimePoint, const core::Error&) {
        return {};
    }
    virtual core::Status DoFailJob(std::int64_t, int, const core::Error&) { return {}; }

private:
    bool Crash(const std::string& step) {
        if (crash_on != step) return false;
        crash_on.clear();
        return true;
    }
    static core::Error Crashed() { return core::Error::Transient("simulated crash", "crash"); }
};

}  // namespace kyc_bridge::provision::testing
