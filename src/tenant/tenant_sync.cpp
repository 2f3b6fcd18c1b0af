// SPDX-License-Identifier: Apache-2.0
// Reads the tenant through the Management API and makes a plan's changes to it.
#include "kyc_bridge/auth0/management_client.hpp"
#include "kyc_bridge/tenant/tenant.hpp"

namespace kyc_bridge::tenant {

namespace {

using nlohmann::json;

constexpr int kPerPage = 100;  // the Management API's maximum (OAS: per_page ≤ 100)

std::string Encoded(const std::string& id) { return auth0::PercentEncode(id); }

core::Error Context(core::Error error, const std::string& what) {
    error.message = what + ": " + error.message;
    return error;
}

/// Every item of a paged list (offset paging, page from 0), whether the answer is the plain
/// array or the include_totals object with its list under `member`.
core::Result<std::vector<json>> ListAll(ManagementApi& api, const std::string& endpoint,
                                        const std::string& path, const std::string& member) {
    std::vector<json> items;
    for (int page = 0;; ++page) {
        const auto separator = path.find('?') == std::string::npos ? "?" : "&";
        auto answer = api.Call("GET", endpoint,
                               path + separator + "per_page=" + std::to_string(kPerPage) +
                                   "&page=" + std::to_string(page),
                               std::nullopt);
        if (!answer) return Context(answer.error(), "reading " + endpoint);
        const json& list = answer->is_object() ? (*answer)[member] : *answer;
        if (!list.is_array()) {
            return core::Error::Transient(endpoint + " answered something other than a list");
        }
        for (const auto& item : list) {
            if (item.is_object()) items.push_back(item);
        }
        if (list.size() < static_cast<std::size_t>(kPerPage)) return items;
    }
}

template <typename T>
std::optional<T> Member(const json& object, const char* name) {
    auto it = object.find(name);
    if (it == object.end() || it->is_null()) return std::nullopt;
    try {
        return it->get<T>();
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

ResourceServer ResourceServerFrom(const json& j) {
    ResourceServer rs;
    rs.id = Member<std::string>(j, "id").value_or("");
    rs.identifier = Member<std::string>(j, "identifier").value_or("");
    rs.name = Member<std::string>(j, "name").value_or("");
    rs.is_system = Member<bool>(j, "is_system").value_or(false);
    rs.enforce_policies = Member<bool>(j, "enforce_policies");
    rs.token_dialect = Member<std::string>(j, "token_dialect");
    rs.token_lifetime = Member<int>(j, "token_lifetime");
    rs.allow_offline_access = Member<bool>(j, "allow_offline_access");
    rs.skip_consent_for_verifiable_first_party_clients =
        Member<bool>(j, "skip_consent_for_verifiable_first_party_clients");
    if (auto it = j.find("scopes"); it != j.end() && it->is_array()) {
        for (const auto& s : *it) {
            if (!s.is_object()) continue;
            rs.scopes.push_back({Member<std::string>(s, "value").value_or(""),
                                 Member<std::string>(s, "description").value_or("")});
        }
    }
    return rs;
}

core::Result<Role> RoleFrom(ManagementApi& api, const json& j) {
    Role role{Member<std::string>(j, "id").value_or(""),
              Member<std::string>(j, "name").value_or(""),
              Member<std::string>(j, "description").value_or(""),
              {}};
    auto permissions = ListAll(api, "GET /api/v2/roles/{id}/permissions",
                               "/api/v2/roles/" + Encoded(role.id) + "/permissions", "permissions");
    if (!permissions) return permissions.error();
    for (const auto& p : *permissions) {
        role.permissions.insert({Member<std::string>(p, "resource_server_identifier").value_or(""),
                                 Member<std::string>(p, "permission_name").value_or("")});
    }
    return role;
}

ClientGrant GrantFrom(const json& j) {
    ClientGrant grant;
    grant.id = Member<std::string>(j, "id").value_or("");
    grant.client_id = Member<std::string>(j, "client_id").value_or("");
    grant.audience = Member<std::string>(j, "audience").value_or("");
    grant.is_system = Member<bool>(j, "is_system").value_or(false);
    for (const auto& s :
         Member<std::vector<std::string>>(j, "scope").value_or(std::vector<std::string>{}))
        grant.scope.insert(s);
    return grant;
}

json PermissionsBody(const std::set<Permission>& permissions) {
    json list = json::array();
    for (const auto& p : permissions) {
        list.push_back({{"resource_server_identifier", p.resource_server_identifier},
                        {"permission_name", p.permission_name}});
    }
    return {{"permissions", list}};
}

core::Status Done(const core::Result<json>& answer, const Change& change) {
    if (answer) return {};
    return Context(answer.error(), std::string(ToString(change.action)) + " " +
                                       std::string(ToString(change.kind)) + " " + change.key);
}

core::Status RemovePermissions(ManagementApi& api, const Change& c) {
    if (c.action != Action::kUpdate || c.kind != Kind::kRole || c.permissions_removed.empty())
        return {};
    return Done(api.Call("DELETE", "DELETE /api/v2/roles/{id}/permissions",
                         "/api/v2/roles/" + Encoded(c.id) + "/permissions",
                         PermissionsBody(c.permissions_removed)),
                c);
}

core::Status CreateOrUpdateRole(ManagementApi& api, const Change& c) {
    std::string id = c.id;
    if (c.action == Action::kCreate) {
        auto created = api.Call("POST", "POST /api/v2/roles", "/api/v2/roles", c.body);
        if (auto s = Done(created, c); !s) return s;
        id = Member<std::string>(*created, "id").value_or("");
        if (id.empty()) return core::Error::Transient("create role " + c.key + ": no id in answer");
    } else if (!c.body.is_null()) {
        if (auto s = Done(api.Call("PATCH", "PATCH /api/v2/roles/{id}",
                                   "/api/v2/roles/" + Encoded(id), c.body),
                          c);
            !s)
            return s;
    }
    if (c.permissions_added.empty()) return {};
    return Done(api.Call("POST", "POST /api/v2/roles/{id}/permissions",
                         "/api/v2/roles/" + Encoded(id) + "/permissions",
                         PermissionsBody(c.permissions_added)),
                c);
}

/// Creates and updates of one kind (never roles: CreateOrUpdateRole).
core::Status CreateOrUpdate(ManagementApi& api, const Change& c) {
    const bool servers = c.kind == Kind::kResourceServer;
    const std::string collection = servers ? "/api/v2/resource-servers" : "/api/v2/client-grants";
    if (c.action == Action::kCreate)
        return Done(api.Call("POST", "POST " + collection, collection, c.body), c);
    if (c.body.is_null()) return {};
    return Done(api.Call("PATCH", "PATCH " + collection + "/{id}", collection + "/" + Encoded(c.id),
                         c.body),
                c);
}

core::Status Delete(ManagementApi& api, const Change& c) {
    // Auth0's DELETE /api/v2/roles/{id}, /resource-servers/{id}, /client-grants/{id}
    // (auth0.com/docs/api/management/v2: delete-roles-by-id, delete-resource-servers-by-id,
    // delete_client_grants_by_id); not in our OAS subset.
    static const std::map<Kind, std::string> kCollection = {
        {Kind::kResourceServer, "/api/v2/resource-servers"},
        {Kind::kRole, "/api/v2/roles"},
        {Kind::kClientGrant, "/api/v2/client-grants"}};
    const auto& collection = kCollection.at(c.kind);
    auto answer = api.Call("DELETE", "DELETE " + collection + "/{id}",
                           collection + "/" + Encoded(c.id), std::nullopt);
    // Gone already: a repeat after an answer was lost, or someone else deleted it.
    if (!answer && answer.error().http_status == 404) return {};
    return Done(answer, c);
}

}  // namespace

core::Result<Tenant> ReadTenant(ManagementApi& api) {
    Tenant tenant;
    auto servers = ListAll(api, "GET /api/v2/resource-servers", "/api/v2/resource-servers",
                           "resource_servers");
    if (!servers) return servers.error();
    for (const auto& j : *servers) tenant.resource_servers.push_back(ResourceServerFrom(j));
    auto roles = ListAll(api, "GET /api/v2/roles", "/api/v2/roles", "roles");
    if (!roles) return roles.error();
    for (const auto& j : *roles) {
        auto role = RoleFrom(api, j);
        if (!role) return role.error();
        tenant.roles.push_back(std::move(*role));
    }
    auto grants =
        ListAll(api, "GET /api/v2/client-grants", "/api/v2/client-grants", "client_grants");
    if (!grants) return grants.error();
    for (const auto& j : *grants) tenant.client_grants.push_back(GrantFrom(j));
    return tenant;
}

core::Status Apply(ManagementApi& api, const std::vector<Change>& changes,
                   const std::function<void(const Change&)>& done) {
    // Permissions leave roles before scopes leave APIs, and scopes exist before roles get them.
    for (const auto& c : changes) {
        if (auto s = RemovePermissions(api, c); !s) return s;
    }
    for (const Kind kind : {Kind::kResourceServer, Kind::kRole, Kind::kClientGrant}) {
        for (const auto& c : changes) {
            if (c.kind != kind || c.action == Action::kDelete) continue;
            auto s = kind == Kind::kRole ? CreateOrUpdateRole(api, c) : CreateOrUpdate(api, c);
            if (!s) return s;
            done(c);
        }
    }
    for (const Kind kind : {Kind::kClientGrant, Kind::kRole, Kind::kResourceServer}) {
        for (const auto& c : changes) {
            if (c.kind != kind || c.action != Action::kDelete) continue;
            if (auto s = Delete(api, c); !s) return s;
            done(c);
        }
    }
    return {};
}

}  // namespace kyc_bridge::tenant
