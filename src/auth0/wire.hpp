// SPDX-License-Identifier: Apache-2.0
// Private: Auth0 JSON bodies ↔ plain structs, and URL/form encoding.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kyc_bridge/auth0/auth0_api.hpp"

namespace kyc_bridge::auth0::wire {

/// An Auth0 user object; nullopt if it is not an object with a string user_id.
std::optional<User> ParseUser(const nlohmann::json& json);
/// A JSON array of users; nullopt if the body is not one.
std::optional<std::vector<User>> ParseUsers(const std::string& body);
/// GET /api/v2/roles: an array of {id,name,…} (or {roles:[…]} with include_totals).
std::optional<std::vector<Role>> ParseRoles(const std::string& body);
/// POST /api/v2/users body (CreateUserRequestContent, auth0-facts §3).
nlohmann::json CreateUserBody(const NewUser& user);
/// application/x-www-form-urlencoded body from name/value pairs.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace kyc_bridge::auth0::wire
