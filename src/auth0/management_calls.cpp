// SPDX-License-Identifier: Apache-2.0
// HttpAuth0Api's endpoints: request shapes and answer parsing, one function per Auth0 call.
#include <utility>

#include "kyc_bridge/auth0/management_client.hpp"
#include "wire.hpp"

namespace kyc_bridge::auth0 {

using nlohmann::json;

namespace {

std::function<std::optional<json>()> Fixed(std::optional<json> body) {
    return [body = std::move(body)] { return body; };
}

// The body with the user's initial password, handed over once (BodyMaker is called once) so that
// no copy is left behind: Pending cleanses the one it keeps, the transfer its serialized form.
std::function<std::optional<json>()> Once(json body) {
    auto held = std::make_shared<json>(std::move(body));
    return [held] { return std::optional<json>(std::move(*held)); };
}

core::Callback<http::Response> Void(core::Callback<void> done) {
    return [done = std::move(done)](core::Result<http::Response> answer) {
        if (!answer) return done(answer.error());
        done(core::Status{});
    };
}

}  // namespace

void HttpAuth0Api::CreateUser(const NewUser& user, core::Callback<User> done) {
    const Call call{ApiKind::kManagement, "POST /api/v2/users"};
    Management(call, "POST", "/api/v2/users", Once(wire::CreateUserBody(user)), 0,
               [this, call, done = std::move(done)](core::Result<http::Response> answer) {
                   if (!answer) return done(answer.error());
                   auto parsed = wire::ParseUser(json::parse(answer->body, nullptr, false));
                   if (!parsed) {
                       return done(Failed(
                           call, MalformedAnswer(call, answer->status, "not a user object")));
                   }
                   done(std::move(*parsed));
               });
}

void HttpAuth0Api::GetUser(const std::string& user_id, core::Callback<std::optional<User>> done) {
    // "pass the URL-encoded user ID" (docs-v2 get-users-by-id-or-email.mdx)
    const Call call{ApiKind::kManagement, "GET /api/v2/users/{id}"};
    Management(call, "GET", "/api/v2/users/" + PercentEncode(user_id), Fixed(std::nullopt), 404,
               [this, call, done = std::move(done)](core::Result<http::Response> answer) {
                   if (!answer) return done(answer.error());
                   if (answer->status == 404) return done(std::optional<User>{});
                   auto parsed = wire::ParseUser(json::parse(answer->body, nullptr, false));
                   if (!parsed) {
                       return done(Failed(
                           call, MalformedAnswer(call, answer->status, "not a user object")));
                   }
                   done(std::optional<User>{std::move(*parsed)});
               });
}

void HttpAuth0Api::GetUsersByEmail(const std::string& email,
                                   core::Callback<std::vector<User>> done) {
    const Call call{ApiKind::kManagement, "GET /api/v2/users-by-email"};
    Management(call, "GET", "/api/v2/users-by-email?email=" + PercentEncode(email),
               Fixed(std::nullopt), 0,
               [this, call, done = std::move(done)](core::Result<http::Response> answer) {
                   if (!answer) return done(answer.error());
                   auto users = wire::ParseUsers(answer->body);
                   if (!users) {
                       return done(Failed(
                           call, MalformedAnswer(call, answer->status, "not an array of users")));
                   }
                   done(std::move(*users));
               });
}

void HttpAuth0Api::UpdateUser(const std::string& user_id, const json& patch,
                              core::Callback<void> done) {
    const Call call{ApiKind::kManagement, "PATCH /api/v2/users/{id}"};
    Management(call, "PATCH", "/api/v2/users/" + PercentEncode(user_id), Fixed(patch), 0,
               Void(std::move(done)));
}

void HttpAuth0Api::AssignRoles(const std::string& user_id, const std::vector<std::string>& role_ids,
                               core::Callback<void> done) {
    // 204 without a body on success (OAS); any 2xx is accepted. The OAS lists no 409 here, but
    // a stand-in that answers "already assigned" with 409 means the step is done. A 404 for a
    // user we just created is a lagging read: ClassifyAnswer makes it kTransient.
    const Call call{ApiKind::kManagement, "POST /api/v2/users/{id}/roles"};
    Management(call, "POST", "/api/v2/users/" + PercentEncode(user_id) + "/roles",
               Fixed(json{{"roles", role_ids}}), 409, Void(std::move(done)));
}

void HttpAuth0Api::RemoveRoles(const std::string& user_id, const std::vector<std::string>& role_ids,
                               core::Callback<void> done) {
    // "Removes roles from a user" (Management API OAS, DELETE /users/{id}/roles): body
    // {"roles": [...]}, minItems 1, 204; scopes update:users or delete:role_members.
    const Call call{ApiKind::kManagement, "DELETE /api/v2/users/{id}/roles"};
    Management(call, "DELETE", "/api/v2/users/" + PercentEncode(user_id) + "/roles",
               Fixed(json{{"roles", role_ids}}), 0, Void(std::move(done)));
}

void HttpAuth0Api::AssignUsersToRole(const std::string& role_id,
                                     std::function<std::vector<std::string>()> take_users,
                                     core::Callback<void> done) {
    // "Assign users to a role" (Management API OAS, auth0/docs-v2 main/docs/oas/management/v2/
    // management-api-oas.json, POST /roles/{id}/users; auth0-facts "Assigning one role to many
    // users"): body {"users": [...]}, 200 on success. 404 ("Role not found." or "One or more of
    // the users do not exist.") fails the whole call and stays kPermanent with http_status 404,
    // so that the caller can split the batch. The users are taken at the grant, once: the 401
    // repeat sends the same batch.
    const Call call{ApiKind::kManagement, "POST /api/v2/roles/{id}/users"};
    Management(
        call, "POST", "/api/v2/roles/" + PercentEncode(role_id) + "/users",
        [take_users = std::move(take_users)]() -> std::optional<json> {
            return json{{"users", take_users()}};
        },
        0, Void(std::move(done)));
}

void HttpAuth0Api::SendPasswordChangeEmail(const std::string& email, const std::string& connection,
                                           const std::string& client_id,
                                           core::Callback<void> done) {
    // Authentication API: no token, and its own limits (1/minute per IP and email, auth0-facts
    // §1), so it is not paced with the Management API. Answers 200 with plain text (§6).
    const Call call{ApiKind::kAuthentication, "POST /dbconnections/change_password"};
    json body = {{"client_id", client_id}, {"email", email}, {"connection", connection}};
    http::Request request{"POST",
                          settings_.base_url + "/dbconnections/change_password",
                          {{"Content-Type", "application/json"}},
                          body.dump()};
    StartObserved(call, std::move(request),
                [this, call, done = std::move(done)](core::Result<http::Response> answer) {
                    if (!answer) return done(TransportFailed(call, answer.error()));
                    if (auto error = ClassifyAnswer(call, *answer, clock_.Now())) {
                        return done(Failed(call, std::move(*error)));
                    }
                    done(core::Status{});
                });
}

core::Result<std::vector<Role>> HttpAuth0Api::FindRoles(const std::string& name_filter) {
    const Call call{ApiKind::kManagement, "GET /api/v2/roles"};
    auto answer = ManagementBlocking(
        call, "/api/v2/roles?name_filter=" + PercentEncode(name_filter) + "&per_page=100");
    if (!answer) return answer.error();
    auto roles = wire::ParseRoles(answer->body);
    if (!roles) return Failed(call, MalformedAnswer(call, answer->status, "not an array of roles"));
    return std::move(*roles);
}

core::Status HttpAuth0Api::Probe() {
    const Call call{ApiKind::kManagement, "GET /api/v2/roles"};
    auto answer = ManagementBlocking(call, "/api/v2/roles?per_page=1");
    if (!answer) return answer.error();
    return {};
}

core::Result<std::vector<std::string>> ResolveRoleIds(Auth0Api& api,
                                                      const std::vector<std::string>& role_names) {
    std::vector<std::string> ids;
    for (const auto& name : role_names) {
        auto roles = api.FindRoles(name);
        if (!roles) return roles.error();
        const Role* match = nullptr;
        for (const auto& role : *roles) {
            if (role.name == name) match = &role;  // exact: name_filter is case-insensitive
        }
        if (match == nullptr) {
            return core::Error{core::ErrorKind::kConfiguration,
                               "role \"" + name +
                                   "\" does not exist in Auth0 (exact, case-sensitive "
                                   "name); create it or fix auth0.roles",
                               "role_not_found", 0, std::nullopt};
        }
        ids.push_back(match->id);
    }
    return ids;
}

}  // namespace kyc_bridge::auth0
