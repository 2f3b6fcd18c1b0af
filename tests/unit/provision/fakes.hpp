// SPDX-License-Identifier: Apache-2.0
// In-memory Auth0 tenant and job ledger for state-machine tests, with crash injection.
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
    std::vector<std::string> ghost_emails;       // 409 on create, invisible to reads
    std::optional<core::Error> fail_next;        // returned by the next call instead of acting
    bool last_verify_email = false;

    core::Result<auth0::User> CreateUser(const auth0::NewUser& u) override {
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
    core::Result<std::optional<auth0::User>> GetUser(const std::string& id) override {
        calls.push_back("get");
        if (auto e = TakeFailure()) return *e;
        auto it = users.find(id);
        if (it == users.end()) return std::optional<auth0::User>{};
        return std::optional<auth0::User>{it->second};
    }
    core::Result<std::vector<auth0::User>> GetUsersByEmail(const std::string& email) override {
        calls.push_back("by_email");
        if (auto e = TakeFailure()) return *e;
        std::vector<auth0::User> found;
        for (auto& [id, u] : users) if (u.email == email) found.push_back(u);
        return found;
    }
    core::Status UpdateUser(const std::string& id, const nlohmann::json& patch) override {
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
    core::Status AssignRoles(const std::string& id, const std::vector<std::string>& roles) override {
        calls.push_back("roles");
        if (auto e = TakeFailure()) return *e;
        auto& assigned = roles_of[id];
        for (auto& r : roles) {
            if (std::find(assigned.begin(), assigned.end(), r) == assigned.end()) assigned.push_back(r);
        }
        return {};
    }
    core::Status SendPasswordChangeEmail(const std::string& email, const std::string&,
                                         const std::string&) override {
        calls.push_back("email");
        if (auto e = TakeFailure()) return *e;
        emails_sent.push_back(email);
        return {};
    }
    core::Result<std::vector<auth0::Role>> FindRoles(const std::string&) override {
        return std::vector<auth0::Role>{};
    }
    core::Status Probe() override { return {}; }

private:
    std::optional<core::Error> TakeFailure() {
        auto e = fail_next;
        fail_next.reset();
        return e;
    }
};

/// The ledger in memory. `crash_on` names a Record… call that fails once ("user", "roles",
/// "password", "profile", "complete"), as if the process died after the Auth0 call.
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
    core::Status RecordUser(const std::string& customer, const std::string& user,
                            const std::string& outcome) override {
        if (Crash("user")) return Crashed();
        auto& a = accounts[customer];
        a.customer_id = customer;
        a.auth0_user_id = user;
        a.outcome = outcome;
        return {};
    }
    core::Status RecordRolesAssigned(const std::string& customer) override {
        if (Crash("roles")) return Crashed();
        accounts[customer].roles_assigned = true;
        return {};
    }
    core::Status RecordPasswordSetupSent(const std::string& customer) override {
        if (Crash("password")) return Crashed();
        accounts[customer].password_setup_sent = true;
        return {};
    }
    core::Status RecordProfileApplied(std::int64_t job_id) override {
        if (Crash("profile")) return Crashed();
        jobs[job_id].profile_applied = true;
        return {};
    }
    core::Status CompleteJob(std::int64_t job_id, const std::string& customer,
                             const std::optional<OutboundEvent>& event) override {
        if (Crash("complete")) return Crashed();
        jobs[job_id].state = JobState::kDone;
        if (event) {
            outbox.push_back(*event);
            accounts[customer].published = true;
        }
        return {};
    }
    core::Status RescheduleJob(std::int64_t, int, core::TimePoint, const core::Error&) override {
        return {};
    }
    core::Status FailJob(std::int64_t, int, const core::Error&) override { return {}; }

private:
    bool Crash(const std::string& step) {
        if (crash_on != step) return false;
        crash_on.clear();
        return true;
    }
    static core::Error Crashed() { return core::Error::Transient("simulated crash", "crash"); }
};

}  // namespace kyc_bridge::provision::testing
