// SPDX-License-Identifier: Apache-2.0
// An Auth0 tenant over real HTTP: the Authentication API's /oauth/token and
// /dbconnections/change_password, the Management API's users and roles endpoints, Auth0's
// error bodies, rate-limit headers and 429s — plus /__emulator/* endpoints for tests to seed,
// inspect and inject faults.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "user_directory.hpp"

namespace auth0_emulator {

struct Options {
    std::string client_id = "emulator-client";
    std::string client_secret = "emulator-secret";
    std::string connection = "Username-Password-Authentication";
    std::vector<std::string> roles = {"ROLE_CUSTOMER"};
    std::vector<std::string> scopes = {"read:users",   "create:users", "update:users",
                                       "delete:users", "read:roles",   "create:role_members"};
    std::int64_t token_ttl_s = 86400;
    /// Management API token bucket (auth0-facts §1). 0 = no limit, but headers are still sent.
    double rate_limit_per_second = 0;
    double rate_limit_burst = 0;
    /// /dbconnections/change_password: 1 per minute per email address on every plan (§1).
    int change_password_per_minute = 1;
    std::uint64_t seed = 20261122;
};

class Emulator {
public:
    explicit Emulator(Options options);
    void Register(httplib::Server& server);
    /// Seeds users from a JSON array file ([{user_id?, email, given_name?, app_metadata?,
    /// roles?}]).
    void SeedFile(const std::string& path);

private:
    using Clock = std::chrono::steady_clock;
    struct Fault {
        std::string kind;  // status | delay | drop | drop_after | vanish_after_create
        double rate = 1.0;
        Clock::time_point until;
        std::string path_prefix = "/";
        int status = 503;
        int delay_ms = 0;
        /// vanish_after_create: these users are created and answered 201, then deleted, as if
        /// an admin removed them at once. Not a request fault: rate and path_prefix are unused.
        std::set<std::string> user_ids;
    };
    struct TokenInfo {
        Clock::time_point expires_at;
        std::set<std::string> scopes;
    };
    enum class FaultAction { kNone, kAnswered, kDropBefore, kDropAfter };

    void Handle(const httplib::Request& request, httplib::Response& response);
    void HandleTestEndpoint(const httplib::Request& request, httplib::Response& response);
    void HandleToken(const httplib::Request& request, httplib::Response& response);
    void HandleChangePassword(const httplib::Request& request, httplib::Response& response);
    void HandleManagement(const httplib::Request& request, httplib::Response& response,
                          const std::string& route);
    /// Tenant as code (#10, tenant_api.cpp): resource servers, client grants, role create/
    /// update/delete and role permissions. `route` is TenantRoute's template.
    void HandleTenant(const httplib::Request& request, httplib::Response& response,
                      const std::string& route);
    /// "DELETE /api/v2/client-grants/{id}" for the routes HandleTenant owns, else empty (GET
    /// /api/v2/roles and /roles/{id}/users stay with HandleManagement).
    static std::string TenantRoute(const std::string& method, const std::string& path);

    /// Applies an injected fault; sleeps for delays outside the lock.
    FaultAction ApplyFault(const httplib::Request& request, httplib::Response& response);
    /// Takes one request from the bucket and sets the x-ratelimit-* headers; false = 429.
    bool TakeRateLimit(httplib::Response& response);
    /// 401/403 checks on the bearer token for a call needing any of `scopes`.
    bool Authorize(const httplib::Request& request, httplib::Response& response,
                   const std::vector<std::string>& scopes);
    void Record(const httplib::Request& request, const std::string& route, int status);
    /// Deletes `user_id` if an active vanish_after_create fault names it. Caller holds mutex_.
    void VanishIfChosen(const std::string& user_id);
    std::string Now() const;

    Options options_;
    std::mutex mutex_;
    UserDirectory directory_;
    std::mt19937_64 rng_;
    std::map<std::string, TokenInfo> tokens_;
    std::vector<Fault> faults_;
    std::vector<nlohmann::json> emails_;
    std::vector<nlohmann::json> requests_;
    std::map<std::string, int> by_route_;
    std::map<std::size_t, int> role_batch_sizes_;  // users per POST /roles/{id}/users → calls
    int token_requests_ = 0;
    int management_requests_ = 0;
    int rate_limited_ = 0;
    int faults_injected_ = 0;
    double bucket_ = 0;
    Clock::time_point bucket_refilled_at_ = Clock::now();
    Clock::time_point reject_credentials_until_{};
    std::map<std::string, ApiError> rejected_emails_;
    std::set<std::string> ghost_conflicts_;  // emails and bare ids that 409 without a user
    std::map<std::string, std::vector<Clock::time_point>> password_emails_at_;
    // Tenant as code (#10), owned by tenant_api.cpp. Role permissions are (API identifier,
    // permission name) pairs by role id; the roles themselves live in directory_.
    std::vector<nlohmann::json> resource_servers_;
    std::vector<nlohmann::json> client_grants_;
    std::map<std::string, std::set<std::pair<std::string, std::string>>> role_permissions_;
};

}  // namespace auth0_emulator
