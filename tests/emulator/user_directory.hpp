// SPDX-License-Identifier: Apache-2.0
// The emulator's tenant: users of one database connection, roles and role assignments, with
// Auth0's validation rules for the fields kyc-bridge sends. Not thread-safe: the caller locks.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace auth0_emulator {

/// An Auth0 Management API error: the status and the {statusCode,error,message,errorCode} body.
struct ApiError {
    int status = 400;
    std::string message;
    std::string error_code;
};

/// Auth0's reason phrase for a status ("Bad Request", "Conflict", ...).
std::string ReasonPhrase(int status);
nlohmann::json ErrorBody(const ApiError& error);

struct Role {
    std::string id;
    std::string name;
    std::string description;
};

class UserDirectory {
public:
    UserDirectory(std::string connection, const std::vector<std::string>& role_names);

    /// POST /api/v2/users. `now` is the RFC 3339 time stamp for created_at/updated_at.
    /// Returns the new user, or the error Auth0 gives (400 validation, 409 duplicate).
    std::variant<nlohmann::json, ApiError> Create(const nlohmann::json& body,
                                                  const std::string& now);
    /// PATCH /api/v2/users/{id}: root attributes replaced, metadata merged at the first level,
    /// null deletes (auth0-facts §4, from the OAS and manage-metadata-api.mdx).
    std::variant<nlohmann::json, ApiError> Patch(const std::string& user_id,
                                                 const nlohmann::json& body,
                                                 const std::string& now);
    std::optional<nlohmann::json> Find(const std::string& user_id) const;
    /// users-by-email is case-sensitive on the stored (lower-case) email (auth0-facts §4).
    std::vector<nlohmann::json> FindByEmail(const std::string& email) const;
    bool Delete(const std::string& user_id);
    /// Back to the tenant of start-up: no users, and the start-up roles with their ids (a
    /// running daemon resolved them once) instead of whatever tenant apply made of them.
    void Reset() {
        users_.clear();
        by_email_.clear();
        assigned_.clear();
        times_blocked_.clear();
        roles_ = start_roles_;
    }
    std::size_t size() const { return users_.size(); }

    std::vector<Role> FindRoles(const std::string& name_filter) const;
    /// POST /api/v2/users/{id}/roles: assigning an assigned role again is a no-op (204).
    std::optional<ApiError> AssignRoles(const std::string& user_id, const nlohmann::json& body);
    /// POST /api/v2/roles/{id}/users: all or nothing — one unknown user fails the whole call
    /// (404) and assigns nobody; assigning to a user who has the role is a no-op.
    std::optional<ApiError> AssignUsersToRole(const std::string& role_id,
                                              const nlohmann::json& body);
    std::vector<Role> RolesOf(const std::string& user_id) const;
    /// DELETE /api/v2/users/{id}/roles, body {"roles":[ids]} (minItems 1): removing a role the
    /// user does not have is a no-op (204).
    std::optional<ApiError> RemoveRoles(const std::string& user_id, const nlohmann::json& body);

    /// Every user with a "roles" array of role names and "times_blocked" (how often a PATCH
    /// turned blocked from false to true), for the test endpoints.
    nlohmann::json Dump() const;
    /// Seeds a user as if created by hand in the dashboard (no validation beyond the id).
    std::variant<nlohmann::json, ApiError> Seed(const nlohmann::json& user, const std::string& now);

    const std::string& connection() const { return connection_; }

private:
    std::string connection_;
    std::vector<Role> roles_;
    std::vector<Role> start_roles_;
    std::map<std::string, nlohmann::json> users_;            // by full user_id
    std::multimap<std::string, std::string> by_email_;       // lower-case email → user_id
    std::map<std::string, std::set<std::string>> assigned_;  // user_id → role ids
    std::map<std::string, int> times_blocked_;                // user_id → unblocked→blocked

    // --- BEGIN tenant as code (#10): role create/update/delete for tests/emulator/tenant_api.cpp,
    // defined in user_directory_roles.cpp. One additive block; move it up as you see fit.
public:
    /// POST /api/v2/roles: 409 if a role has that name (OAS: "The role already exists.").
    std::variant<Role, ApiError> CreateRole(const std::string& name,
                                            const std::string& description);
    /// PATCH /api/v2/roles/{id}: the fields given; 404 unknown id, 409 a name another role has.
    std::variant<Role, ApiError> UpdateRole(const std::string& role_id,
                                            const std::optional<std::string>& name,
                                            const std::optional<std::string>& description);
    /// DELETE /api/v2/roles/{id}: the role and its assignments to users; false if unknown.
    bool DeleteRole(const std::string& role_id);
    std::optional<Role> FindRole(const std::string& role_id) const;
    // --- END tenant as code (#10)
};

/// Auth0's `format: email` check, close enough for the emulator: one @, no spaces, a dot in the
/// domain.
bool LooksLikeEmail(const std::string& email);
std::string Lower(std::string text);

}  // namespace auth0_emulator
