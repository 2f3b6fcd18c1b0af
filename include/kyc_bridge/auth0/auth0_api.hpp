// SPDX-License-Identifier: Apache-2.0
// The Auth0 calls the provisioner makes, as an interface: one method per Auth0 request.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kyc_bridge/core/async.hpp"
#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::auth0 {

/// The parts of an Auth0 user object that kyc-bridge looks at.
struct User {
    std::string user_id;  ///< full id, e.g. "auth0|cus_8F3k2"
    std::string email;
    std::optional<std::string> given_name;
    std::optional<std::string> family_name;
    nlohmann::json app_metadata = nlohmann::json::object();
    std::string connection;  ///< identities[0].connection, empty if absent
};

/// Body of POST /api/v2/users (Auth0 Management API v2, CreateUserRequestContent).
struct NewUser {
    std::string user_id;  ///< without the "auth0|" prefix: Auth0 adds the strategy prefix
    std::string connection;
    std::string email;     ///< lower-cased
    std::string password;  ///< random, never logged
    std::optional<std::string> given_name;
    std::optional<std::string> family_name;
    nlohmann::json app_metadata = nlohmann::json::object();
    bool verify_email = false;
};

struct Role {
    std::string id;
    std::string name;
};

/// One Auth0 tenant. Every call is one HTTP request (plus, at most, one token fetch and one
/// repeat after a 401), paced by the shared rate-limit budget, and classifies its failure:
/// kTransient / kRateLimited (with not_before) / kConfiguration / kPermanent (with Auth0's
/// message and errorCode).
///
/// The provisioning calls do not block: each returns at once and calls its callback exactly once
/// (possibly before it returns, as fakes do), on whichever thread finished the call. Callbacks
/// must not block. Implementations are thread-safe and never throw.
class Auth0Api {
public:
    virtual ~Auth0Api() = default;

    /// POST /api/v2/users. A 409 is returned as Error{kConflict, http_status 409}.
    virtual void CreateUser(const NewUser& user, core::Callback<User> done) = 0;
    /// GET /api/v2/users/{id} (id percent-encoded). 404 → std::nullopt.
    virtual void GetUser(const std::string& user_id,
                         core::Callback<std::optional<User>> done) = 0;
    /// GET /api/v2/users-by-email?email= (email lower-cased by the caller).
    virtual void GetUsersByEmail(const std::string& email,
                                 core::Callback<std::vector<User>> done) = 0;
    /// PATCH /api/v2/users/{id}; app_metadata is merged at the first level by Auth0.
    virtual void UpdateUser(const std::string& user_id, const nlohmann::json& patch,
                            core::Callback<void> done) = 0;
    /// POST /api/v2/users/{id}/roles: several roles to one user.
    virtual void AssignRoles(const std::string& user_id, const std::vector<std::string>& role_ids,
                             core::Callback<void> done) = 0;
    /// DELETE /api/v2/users/{id}/roles (body {"roles": [...]}): removing a role the user does
    /// not have is not an error.
    virtual void RemoveRoles(const std::string& user_id, const std::vector<std::string>& role_ids,
                             core::Callback<void> done) = 0;
    /// POST /api/v2/roles/{id}/users (body {"users": [...]}): one role to many users; a 404
    /// ("One or more of the users do not exist.") fails the whole call. `take_users` is called
    /// once, when the pacer grants the request, and returns the users to send then, so that a
    /// batch holds everyone who queued while the request waited for the budget.
    virtual void AssignUsersToRole(const std::string& role_id,
                                   std::function<std::vector<std::string>()> take_users,
                                   core::Callback<void> done) = 0;
    /// POST /dbconnections/change_password (Authentication API): Auth0 sends its
    /// change-password email, the documented way to invite a user.
    virtual void SendPasswordChangeEmail(const std::string& email, const std::string& connection,
                                         const std::string& client_id,
                                         core::Callback<void> done) = 0;

    /// GET /api/v2/roles?name_filter= (a case-insensitive filter, not an exact match). Blocks:
    /// for start-up, never from a callback.
    virtual core::Result<std::vector<Role>> FindRoles(const std::string& name_filter) = 0;
    /// A cheap authenticated call (token fetch and GET /api/v2/roles?per_page=1) that proves the
    /// credentials and scopes work; used to end a configuration quarantine. Blocks, like FindRoles.
    virtual core::Status Probe() = 0;
    /// Shutdown: nothing waits in the pacer any more, and calls in flight end with a kTransient
    /// error soon. Idempotent.
    virtual void Shutdown() {}
};

}  // namespace kyc_bridge::auth0
