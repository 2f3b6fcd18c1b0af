// SPDX-License-Identifier: Apache-2.0
// Tenant as code (#10): resource servers, client grants, role create/update/delete and role
// permissions, with the shapes and scopes of Auth0's Management API OAS
// (../shared/reference/auth0-management-api-v2.subset.json) and Auth0's documented DELETEs.
#include <algorithm>
#include <map>
#include <random>

#include "emulator.hpp"
#include "replies.hpp"

namespace auth0_emulator {
namespace {

std::string NewId(const std::string& prefix) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id = prefix;
    for (int i = 0; i < 16; ++i) id += kHex[rng() % 16];
    return id;
}

ApiError Invalid(const std::string& detail) {
    return {400, "Payload validation error: " + detail, "invalid_body"};
}

/// additionalProperties: false, as the OAS request schemas say.
std::optional<ApiError> OnlyKnown(const json& body, const std::set<std::string>& allowed) {
    if (!body.is_object())
        return Invalid("'Expected type object but found type " + std::string(body.type_name()) +
                       "'.");
    for (const auto& [key, value] : body.items()) {
        if (!allowed.count(key))
            return Invalid("'Additional properties not allowed: " + key + "'.");
    }
    return std::nullopt;
}

const std::set<std::string> kServerUpdateFields = {
    "name",
    "scopes",
    "signing_alg",
    "signing_secret",
    "skip_consent_for_verifiable_first_party_clients",
    "allow_offline_access",
    "token_lifetime",
    "token_dialect",
    "enforce_policies"};

/// The list, or the include_totals object with it under `member` (offset paging, OAS).
void SendPage(const httplib::Request& request, httplib::Response& response,
              const std::vector<json>& items, const std::string& member) {
    const int per_page =
        request.has_param("per_page") ? std::stoi(request.get_param_value("per_page")) : 50;
    const int page = request.has_param("page") ? std::stoi(request.get_param_value("page")) : 0;
    if (per_page < 1 || per_page > 100 || page < 0) {
        return SendApiError(response, {400,
                                       "Query validation error: 'per_page' must be between 1 "
                                       "and 100.",
                                       "invalid_query_string"});
    }
    json list = json::array();
    for (std::size_t i = static_cast<std::size_t>(page) * per_page;
         i < items.size() && i < static_cast<std::size_t>(page + 1) * per_page; ++i) {
        list.push_back(items[i]);
    }
    if (request.get_param_value("include_totals") != "true") return SendJson(response, 200, list);
    SendJson(
        response, 200,
        {{member, list}, {"start", page * per_page}, {"limit", per_page}, {"total", items.size()}});
}

/// The `{id}` segment of /api/v2/<collection>/{id}[/rest].
std::string IdOf(const std::string& path, const std::string& collection) {
    auto rest = path.substr(collection.size() + 1);
    return PercentDecode(rest.substr(0, rest.find('/')));
}

json RoleJson(const Role& role) {
    return {{"id", role.id}, {"name", role.name}, {"description", role.description}};
}

}  // namespace

std::string Emulator::TenantRoute(const std::string& method, const std::string& path) {
    for (const std::string collection : {"/api/v2/resource-servers", "/api/v2/client-grants"}) {
        if (path == collection) return method + " " + collection;
        if (path.rfind(collection + "/", 0) == 0) return method + " " + collection + "/{id}";
    }
    const auto route = ManagementRoute(path).first;
    if (route == "/api/v2/roles" && method == "POST") return method + " " + route;
    if (route == "/api/v2/roles/{id}" || route == "/api/v2/roles/{id}/permissions")
        return method + " " + route;
    return {};
}

void Emulator::HandleTenant(const httplib::Request& request, httplib::Response& response,
                            const std::string& route) {
    std::lock_guard lock(mutex_);
    ++management_requests_;
    ++by_route_[route];
    if (!TakeRateLimit(response)) {
        ++rate_limited_;
        return SendApiError(response, {429, "Global limit has been reached", "too_many_requests"});
    }
    // The scope each route needs (OAS x-scopes; the DELETEs as Auth0 documents them).
    static const std::map<std::string, std::string> kScopes = {
        {"GET /api/v2/resource-servers", "read:resource_servers"},
        {"POST /api/v2/resource-servers", "create:resource_servers"},
        {"GET /api/v2/resource-servers/{id}", "read:resource_servers"},
        {"PATCH /api/v2/resource-servers/{id}", "update:resource_servers"},
        {"DELETE /api/v2/resource-servers/{id}", "delete:resource_servers"},
        {"GET /api/v2/client-grants", "read:client_grants"},
        {"POST /api/v2/client-grants", "create:client_grants"},
        {"PATCH /api/v2/client-grants/{id}", "update:client_grants"},
        {"DELETE /api/v2/client-grants/{id}", "delete:client_grants"},
        {"POST /api/v2/roles", "create:roles"},
        {"GET /api/v2/roles/{id}", "read:roles"},
        {"PATCH /api/v2/roles/{id}", "update:roles"},
        {"DELETE /api/v2/roles/{id}", "delete:roles"},
        {"GET /api/v2/roles/{id}/permissions", "read:roles"},
        {"POST /api/v2/roles/{id}/permissions", "update:roles"},
        {"DELETE /api/v2/roles/{id}/permissions", "update:roles"},
    };
    const auto needed = kScopes.find(route);
    if (needed == kScopes.end()) return SendApiError(response, {404, "Not Found", ""});
    if (!Authorize(request, response, {needed->second})) return;
    const auto body = json::parse(request.body, nullptr, false);
    const bool writes = request.method == "POST" || request.method == "PATCH";
    if (writes && body.is_discarded()) {
        return SendApiError(response, {400, "Invalid request payload JSON format", "invalid_body"});
    }
    auto server_at = [this](const std::string& id_or_identifier) {
        // {id} is the "ID or audience of the resource server" (delete-resource-servers-by-id).
        return std::find_if(
            resource_servers_.begin(), resource_servers_.end(), [&](const json& rs) {
                return rs["id"] == id_or_identifier || rs["identifier"] == id_or_identifier;
            });
    };
    auto drop_permissions = [this](const std::string& identifier,
                                   const std::set<std::string>& kept_scopes, bool all) {
        // Auth0 removes a deleted API's (or scope's) permissions from every role.
        for (auto& [role, permissions] : role_permissions_) {
            std::erase_if(permissions, [&](const auto& p) {
                return p.first == identifier && (all || !kept_scopes.count(p.second));
            });
        }
    };
    const std::string rs_path = "/api/v2/resource-servers";
    const std::string grant_path = "/api/v2/client-grants";

    if (route == "GET " + rs_path) {
        return SendPage(request, response, resource_servers_, "resource_servers");
    }
    if (route == "POST " + rs_path) {
        auto allowed = kServerUpdateFields;
        allowed.insert("identifier");
        if (auto e = OnlyKnown(body, allowed)) return SendApiError(response, *e);
        if (!body.contains("identifier") || !body["identifier"].is_string() ||
            body["identifier"].get<std::string>().empty())
            return SendApiError(response, Invalid("'Missing required property: identifier'."));
        const auto identifier = body["identifier"].get<std::string>();
        if (server_at(identifier) != resource_servers_.end())
            return SendApiError(response, {409,
                                           "A resource server with the same identifier "
                                           "already exists.",
                                           "conflict"});
        // Auth0's defaults for what the request leaves out.
        json rs = {{"id", NewId("rs_")},
                   {"name", identifier},
                   {"identifier", identifier},
                   {"is_system", false},
                   {"scopes", json::array()},
                   {"signing_alg", "RS256"},
                   {"allow_offline_access", false},
                   {"skip_consent_for_verifiable_first_party_clients", false},
                   {"token_lifetime", 86400},
                   {"token_lifetime_for_web", 7200},
                   {"enforce_policies", false},
                   {"token_dialect", "access_token"}};
        rs.update(body);
        resource_servers_.push_back(rs);
        return SendJson(response, 201, rs);
    }
    if (route.rfind(" " + rs_path + "/{id}") != std::string::npos) {
        const auto id = request.path.substr(rs_path.size() + 1);  // an identifier may hold '/'
        auto it = server_at(PercentDecode(id));
        if (it == resource_servers_.end())
            return SendApiError(response,
                                {404, "Resource server not found", "inexistent_resource_server"});
        if (request.method == "GET") return SendJson(response, 200, *it);
        if (request.method == "PATCH") {
            if (auto e = OnlyKnown(body, kServerUpdateFields)) return SendApiError(response, *e);
            it->update(body);
            std::set<std::string> kept;
            for (const auto& s : (*it)["scopes"]) kept.insert(s.value("value", ""));
            drop_permissions((*it)["identifier"].get<std::string>(), kept, false);
            return SendJson(response, 200, *it);
        }
        if (request.method == "DELETE") {
            // 204 "Resource server successfully deleted." (delete-resource-servers-by-id)
            const auto identifier = (*it)["identifier"].get<std::string>();
            drop_permissions(identifier, {}, true);
            std::erase_if(client_grants_,
                          [&](const json& g) { return g["audience"] == identifier; });
            resource_servers_.erase(it);
            response.status = 204;
            return;
        }
    }

    if (route == "GET " + grant_path) {
        std::vector<json> found;
        for (const auto& g : client_grants_) {
            if (request.has_param("audience") &&
                g["audience"] != request.get_param_value("audience"))
                continue;
            if (request.has_param("client_id") &&
                g["client_id"] != request.get_param_value("client_id"))
                continue;
            found.push_back(g);
        }
        return SendPage(request, response, found, "client_grants");
    }
    if (route == "POST " + grant_path) {
        if (auto e = OnlyKnown(body, {"client_id", "audience", "scope"}))
            return SendApiError(response, *e);
        for (const char* key : {"client_id", "audience"}) {
            if (!body.contains(key) || !body[key].is_string())
                return SendApiError(
                    response, Invalid(std::string("'Missing required property: ") + key + "'."));
        }
        const auto audience = body["audience"].get<std::string>();
        // The Management API itself (…/api/v2/) is a system API the emulator does not list.
        const bool management = audience.size() >= 8 && audience.ends_with("/api/v2/");
        if (!management && server_at(audience) == resource_servers_.end())
            return SendApiError(response,
                                {404, "Resource server not found", "inexistent_resource_server"});
        if (std::any_of(client_grants_.begin(), client_grants_.end(), [&](const json& g) {
                return g["client_id"] == body["client_id"] && g["audience"] == audience;
            }))
            return SendApiError(response, {409,
                                           "A client grant for this client and audience "
                                           "already exists.",
                                           "conflict"});
        json grant = {{"id", NewId("cgr_")},
                      {"client_id", body["client_id"]},
                      {"audience", audience},
                      {"scope", body.value("scope", json::array())}};
        client_grants_.push_back(grant);
        return SendJson(response, 201, grant);
    }
    if (route == "PATCH " + grant_path + "/{id}" || route == "DELETE " + grant_path + "/{id}") {
        const bool patch = request.method == "PATCH";
        const auto id = IdOf(request.path, grant_path);
        auto it = std::find_if(client_grants_.begin(), client_grants_.end(),
                               [&](const json& g) { return g["id"] == id; });
        if (it == client_grants_.end())
            return SendApiError(response,
                                {404, "The client grant does not exist.", "inexistent_grant"});
        if (!patch) {
            client_grants_.erase(it);
            response.status = 204;
            return;
        }
        if (auto e = OnlyKnown(body, {"scope"})) return SendApiError(response, *e);
        if (body.empty())
            return SendApiError(response, Invalid("'Too few properties defined (0), minimum 1'."));
        if (body["scope"].is_array()) (*it)["scope"] = body["scope"];
        return SendJson(response, 200, *it);
    }

    if (route == "POST /api/v2/roles") {
        if (auto e = OnlyKnown(body, {"name", "description"})) return SendApiError(response, *e);
        if (!body.contains("name") || !body["name"].is_string())
            return SendApiError(response, Invalid("'Missing required property: name'."));
        auto created =
            directory_.CreateRole(body["name"].get<std::string>(), body.value("description", ""));
        if (auto* e = std::get_if<ApiError>(&created)) return SendApiError(response, *e);
        return SendJson(response, 200, RoleJson(std::get<Role>(created)));  // 200, per the OAS
    }
    const auto role_id = ManagementRoute(request.path).second;
    if (route.ends_with(" /api/v2/roles/{id}")) {
        const auto role = directory_.FindRole(role_id);
        if (!role)
            return SendApiError(response, {404, "The role does not exist.", "inexistent_role"});
        if (request.method == "GET") return SendJson(response, 200, RoleJson(*role));
        if (request.method == "PATCH") {
            if (auto e = OnlyKnown(body, {"name", "description"}))
                return SendApiError(response, *e);
            auto text = [&](const char* key) {
                return body.contains(key) && body[key].is_string()
                           ? std::optional(body[key].get<std::string>())
                           : std::nullopt;
            };
            auto updated = directory_.UpdateRole(role_id, text("name"), text("description"));
            if (auto* e = std::get_if<ApiError>(&updated)) return SendApiError(response, *e);
            return SendJson(response, 200, RoleJson(std::get<Role>(updated)));
        }
        if (request.method == "DELETE") {
            // 200, and the role leaves every user (delete-roles-by-id).
            directory_.DeleteRole(role_id);
            role_permissions_.erase(role_id);
            response.status = 200;
            return;
        }
    }
    if (route.ends_with(" /api/v2/roles/{id}/permissions")) {
        if (!directory_.FindRole(role_id))
            return SendApiError(response, {404, "The role does not exist.", "inexistent_role"});
        auto& held = role_permissions_[role_id];
        if (request.method == "GET") {
            std::vector<json> list;
            for (const auto& [identifier, name] : held) {
                auto rs = server_at(identifier);
                std::string description;
                if (rs != resource_servers_.end()) {
                    for (const auto& s : (*rs)["scopes"])
                        if (s.value("value", "") == name) description = s.value("description", "");
                }
                list.push_back({{"resource_server_identifier", identifier},
                                {"permission_name", name},
                                {"resource_server_name",
                                 rs != resource_servers_.end() ? (*rs)["name"] : json(identifier)},
                                {"description", description}});
            }
            return SendPage(request, response, list, "permissions");
        }
        if (request.method != "POST" && request.method != "DELETE")
            return SendApiError(response, {404, "Not Found", ""});
        if (body.is_discarded() || OnlyKnown(body, {"permissions"}) ||
            !body.contains("permissions") || !body["permissions"].is_array() ||
            body["permissions"].empty())
            return SendApiError(response, Invalid("'Missing required property: permissions'."));
        std::vector<std::pair<std::string, std::string>> asked;
        for (const auto& p : body["permissions"]) {
            if (!p.is_object() || !p.value("resource_server_identifier", json()).is_string() ||
                !p.value("permission_name", json()).is_string())
                return SendApiError(response, Invalid("'Expected resource_server_identifier and "
                                                      "permission_name' on property permissions."));
            asked.emplace_back(p["resource_server_identifier"].get<std::string>(),
                               p["permission_name"].get<std::string>());
        }
        if (request.method == "DELETE") {
            for (const auto& p : asked) held.erase(p);  // absent ones: a no-op
            response.status = 200;
            return;
        }
        for (const auto& [identifier, name] : asked) {
            // A permission must be a scope of an existing API (emulator choice: 400, as Auth0's
            // answer for an unknown one is not in the OAS subset).
            auto rs = server_at(identifier);
            const bool known =
                rs != resource_servers_.end() &&
                std::any_of((*rs)["scopes"].begin(), (*rs)["scopes"].end(),
                            [&](const json& s) { return s.value("value", "") == name; });
            if (!known)
                return SendApiError(
                    response, {400, "Permission " + name + " of " + identifier + " does not exist.",
                               "invalid_body"});
        }
        held.insert(asked.begin(), asked.end());
        response.status = 201;
        return;
    }
    SendApiError(response, {404, "Not Found", ""});
}

}  // namespace auth0_emulator
