// SPDX-License-Identifier: Apache-2.0
// The Management API endpoints kyc-bridge calls: users, users-by-email, roles, role assignment.
#include "emulator.hpp"
#include "replies.hpp"

namespace auth0_emulator {
namespace {

json RoleJson(const Role& role) {
    return {{"id", role.id}, {"name", role.name}, {"description", role.description}};
}

}  // namespace

void Emulator::HandleManagement(const httplib::Request& request, httplib::Response& response,
                                const std::string& route) {
    std::lock_guard lock(mutex_);
    ++management_requests_;
    ++by_route_[route];
    // The tenant-wide limit is checked first (§1).
    if (!TakeRateLimit(response)) {
        ++rate_limited_;
        SendApiError(response, {429, "Global limit has been reached", "too_many_requests"});
        return;
    }
    const auto user_id = ManagementRoute(request.path).second;  // or the role id, for /roles/{id}
    auto body = json::parse(request.body, nullptr, false);
    const bool has_body = request.method == "POST" || request.method == "PATCH";
    auto bad_json = [&] {
        SendApiError(response, {400, "Invalid request payload JSON format", "invalid_body"});
    };

    if (route == "POST /api/v2/users") {
        if (!Authorize(request, response, {"create:users"})) return;
        if (body.is_discarded()) return bad_json();
        if (body.is_object() && body.contains("email") && body["email"].is_string()) {
            const auto email = Lower(body["email"].get<std::string>());
            if (auto it = rejected_emails_.find(email); it != rejected_emails_.end()) {
                return SendApiError(response, it->second);
            }
            const auto bare_id = body.value("user_id", json("")).is_string()
                                     ? body.value("user_id", std::string())
                                     : std::string();
            if (ghost_conflicts_.count(email) ||
                (!bare_id.empty() && ghost_conflicts_.count(bare_id))) {
                return SendApiError(response, {409, "The user already exists.", "auth0_idp_error"});
            }
        }
        auto created = directory_.Create(body, Now());
        if (auto* error = std::get_if<ApiError>(&created)) return SendApiError(response, *error);
        auto& user = std::get<json>(created);
        // email_verified false (the default) sends a verification email unless verify_email
        // says otherwise (§3 "Email flags").
        const bool verify = body.contains("verify_email") ? body.value("verify_email", false)
                                                          : !body.value("email_verified", false);
        if (verify) {
            emails_.push_back({{"type", "verification"},
                               {"email", user["email"]},
                               {"user_id", user["user_id"]},
                               {"at", Now()}});
        }
        SendJson(response, 201, user);
        VanishIfChosen(user["user_id"].get<std::string>());
        return;
    }
    if (route == "GET /api/v2/users/{id}") {
        if (!Authorize(request, response, {"read:users"})) return;
        auto user = directory_.Find(user_id);
        if (!user)
            return SendApiError(response, {404, "The user does not exist.", "inexistent_user"});
        return SendJson(response, 200, *user);
    }
    if (route == "PATCH /api/v2/users/{id}") {
        if (!Authorize(request, response, {"update:users", "update:users_app_metadata"})) return;
        if (body.is_discarded()) return bad_json();
        auto patched = directory_.Patch(user_id, body, Now());
        if (auto* error = std::get_if<ApiError>(&patched)) return SendApiError(response, *error);
        return SendJson(response, 200, std::get<json>(patched));
    }
    if (route == "DELETE /api/v2/users/{id}") {
        if (!Authorize(request, response, {"delete:users"})) return;
        directory_.Delete(user_id);  // Auth0 answers 204 whether or not the user existed
        response.status = 204;
        return;
    }
    if (route == "GET /api/v2/users-by-email") {
        if (!Authorize(request, response, {"read:users"})) return;
        if (!request.has_param("email")) {
            return SendApiError(response,
                                {400, "Query validation error: 'Missing required property: email'.",
                                 "invalid_query_string"});
        }
        const auto email = request.get_param_value("email");
        if (!LooksLikeEmail(email)) {
            return SendApiError(
                response,
                {400,
                 "Query validation error: 'Object didn't pass validation for format email: " +
                     email + "' on property email.",
                 "invalid_query_string"});
        }
        json users = json::array();
        for (auto& user : directory_.FindByEmail(email))
            users.push_back(user);  // case-sensitive (§4)
        return SendJson(response, 200, users);
    }
    if (route == "GET /api/v2/roles") {
        if (!Authorize(request, response, {"read:roles"})) return;
        auto roles = directory_.FindRoles(request.get_param_value("name_filter"));
        const int per_page =
            request.has_param("per_page") ? std::stoi(request.get_param_value("per_page")) : 50;
        const int page = request.has_param("page") ? std::stoi(request.get_param_value("page")) : 0;
        if (per_page < 1 || per_page > 100) {
            return SendApiError(
                response, {400, "Query validation error: 'per_page' must be between 1 and 100.",
                           "invalid_query_string"});
        }
        json list = json::array();
        for (std::size_t i = static_cast<std::size_t>(page * per_page);
             i < roles.size() && i < static_cast<std::size_t>((page + 1) * per_page); ++i) {
            list.push_back(RoleJson(roles[i]));
        }
        if (request.get_param_value("include_totals") == "true") {
            return SendJson(response, 200,
                            {{"roles", list},
                             {"start", page * per_page},
                             {"limit", per_page},
                             {"total", roles.size()}});
        }
        return SendJson(response, 200, list);
    }
    if (route == "POST /api/v2/users/{id}/roles") {
        if (!Authorize(request, response, {"update:users", "create:role_members"})) return;
        if (has_body && body.is_discarded()) return bad_json();
        if (auto error = directory_.AssignRoles(user_id, body))
            return SendApiError(response, *error);
        response.status = 204;  // no body (§5)
        return;
    }
    if (route == "DELETE /api/v2/users/{id}/roles") {
        // "Removes roles from a user" (OAS): body {"roles": [...]}, minItems 1; 204.
        if (!Authorize(request, response, {"update:users", "delete:role_members"})) return;
        if (body.is_discarded()) return bad_json();
        if (auto error = directory_.RemoveRoles(user_id, body)) return SendApiError(response, *error);
        response.status = 204;
        return;
    }
    if (route == "POST /api/v2/roles/{id}/users") {
        // "Assign users to a role", Auth0's Management API OpenAPI description (auth0/docs-v2,
        // main/docs/oas/management/v2/management-api-oas.json): scopes update:roles or
        // create:role_members; 200, and a real tenant's body is {} (go-auth0 v1.45.0 recording
        // TestRoleManager_UsersCheckpointPagination.yaml); one unknown user fails the whole call.
        if (!Authorize(request, response, {"update:roles", "create:role_members"})) return;
        if (body.is_discarded()) return bad_json();
        if (body.is_object() && body.contains("users") && body["users"].is_array())
            ++role_batch_sizes_[body["users"].size()];
        if (auto error = directory_.AssignUsersToRole(user_id, body))
            return SendApiError(response, *error);
        return SendJson(response, 200, json::object());
    }
    if (route == "GET /api/v2/users/{id}/roles") {
        if (!Authorize(request, response, {"read:users", "read:roles", "read:role_members"}))
            return;
        json list = json::array();
        for (const auto& role : directory_.RolesOf(user_id)) list.push_back(RoleJson(role));
        return SendJson(response, 200, list);
    }
    SendApiError(response, {404, "Not Found", ""});
}

}  // namespace auth0_emulator
