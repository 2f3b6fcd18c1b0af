// SPDX-License-Identifier: Apache-2.0
// The Auth0 calls the provisioner makes, as an interface: one method per Auth0 request.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

/// One Auth0 tenant. Every method is one HTTP request (plus, at most, one token fetch and one
/// repeat after a 401), paced by the shared rate-limit budget, and classifies its failure:
/// kTransient / kRateLimited (with not_before) / kConfiguration / kPermanent (with Auth0's
/// message and errorCode). Implementations are thread-safe and never throw.
class Auth0Api {
public:
    virtual ~Auth0Api() = default;

    /// POST /api/v2/users. A 409 is returned as Error{kConflict, http_status 409}.
    virtual core::Result<User> CreateUser(const NewUser& user) = 0;
    /// GET /api/v2/users/{id} (id percent-encoded). 404 → std::nullopt.
    virtual core::Result<std::optional<User>> GetUser(const std::string& user_id) = 0;
    /// GET /api/v2/users-by-email?email= (email lower-cased by the caller).
    virtual core::Result<std::vector<User>> GetUsersByEmail(const std::string& email) = 0;
    /// PATCH /api/v2/users/{id}; app_metadata is merged at the first level by Auth0.
    virtual core::Status UpdateUser(const std::string& user_id, const nlohmann::json& patch) = 0;
    /// POST /api/v2/users/{id}/roles.
    virtual core::Status AssignRoles(const std::string& user_id,
                                     const std::vector<std::string>& role_ids) = 0;
    /// POST /dbconnections/change_password (Authentication API): Auth0 sends its
    /// change-password email, the documented way to invite a user.
    virtual core::Status SendPasswordChangeEmail(const std::string& email,
                                                 const std::string& connection,
                                                 const std::string& client_id) = 0;
    /// GET /api/v2/roles?name_filter= (a case-insensitive filter, not an exact match).
    virtual core::Result<std::vector<Role>> FindRoles(const std::string& name_filter) = 0;
    /// A cheap authenticated call (token fetch and GET /api/v2/roles?per_page=1) that proves the
    /// credentials and scopes work; used to end a configuration quarantine.
    virtual core::Status Probe() = 0;
};

}  // namespace kyc_bridge::auth0
