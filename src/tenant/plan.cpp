// SPDX-License-Identifier: Apache-2.0
// Plan: the declared tenant against the tenant as read → the creates, updates and deletes.
#include <algorithm>
#include <map>

#include "kyc_bridge/tenant/tenant.hpp"

namespace kyc_bridge::tenant {

namespace {

using nlohmann::json;

std::string PermissionText(const Permission& p) {
    return p.permission_name + " on " + p.resource_server_identifier;
}

json PermissionJson(const Permission& p) {
    return {{"resource_server_identifier", p.resource_server_identifier},
            {"permission_name", p.permission_name}};
}

template <typename T>
json OptionalJson(const std::optional<T>& value) {
    return value ? json(*value) : json(nullptr);
}

json ScopesJson(const std::vector<Scope>& scopes) {
    json list = json::array();
    for (const auto& s : scopes)
        list.push_back({{"value", s.value}, {"description", s.description}});
    return list;
}

/// Adds "field: before → after" to `change` and `patch` when a declared value differs.
template <typename T>
void CompareOptional(const std::string& field, const std::optional<T>& desired,
                     const std::optional<T>& current, Change& change, json& patch) {
    if (!desired || desired == current) return;
    change.fields.push_back({field, OptionalJson(current), json(*desired)});
    patch[field] = *desired;
}

/// Scopes by value: added, removed, and one field per changed description.
void CompareScopes(const std::vector<Scope>& desired, const std::vector<Scope>& current,
                   Change& change, json& patch) {
    std::map<std::string, std::string> want, have;
    for (const auto& s : desired) want[s.value] = s.description;
    for (const auto& s : current) have[s.value] = s.description;
    if (want == have) return;
    FieldChange scopes{"scopes", nullptr, nullptr};
    for (const auto& [value, description] : want) {
        auto it = have.find(value);
        if (it == have.end()) {
            scopes.added.push_back(value);
        } else if (it->second != description) {
            change.fields.push_back({"scopes[" + value + "].description", it->second, description});
        }
    }
    for (const auto& [value, description] : have) {
        if (!want.count(value)) scopes.removed.push_back(value);
    }
    if (!scopes.added.empty() || !scopes.removed.empty()) change.fields.push_back(scopes);
    patch["scopes"] = ScopesJson(desired);  // PATCH replaces the whole list
}

Change ResourceServerChange(const ResourceServer& want, const ResourceServer* have) {
    static const ResourceServer kNone{};
    const ResourceServer& current = have ? *have : kNone;
    Change change{have ? Action::kUpdate : Action::kCreate, Kind::kResourceServer, want.identifier,
                  current.id};
    json patch = json::object();
    if (!have) {
        change.fields.push_back({"identifier", nullptr, want.identifier});
    }
    CompareOptional<std::string>("name", want.name,
                                 have ? std::optional(current.name) : std::nullopt, change, patch);
    CompareOptional("enforce_policies", want.enforce_policies, current.enforce_policies, change,
                    patch);
    CompareOptional("token_dialect", want.token_dialect, current.token_dialect, change, patch);
    CompareOptional("token_lifetime", want.token_lifetime, current.token_lifetime, change, patch);
    CompareOptional("allow_offline_access", want.allow_offline_access, current.allow_offline_access,
                    change, patch);
    CompareOptional("skip_consent_for_verifiable_first_party_clients",
                    want.skip_consent_for_verifiable_first_party_clients,
                    current.skip_consent_for_verifiable_first_party_clients, change, patch);
    CompareScopes(want.scopes, current.scopes, change, patch);
    if (!have) {
        patch["identifier"] = want.identifier;
        patch["scopes"] = ScopesJson(want.scopes);
    }
    if (!patch.empty()) change.body = patch;
    return change;
}

Change RoleChange(const Role& want, const Role* have) {
    Change change{have ? Action::kUpdate : Action::kCreate, Kind::kRole, want.name,
                  have ? have->id : ""};
    static const std::set<Permission> kNone;
    const auto& current = have ? have->permissions : kNone;
    if (!have || have->description != want.description) {
        change.fields.push_back(
            {"description", have ? json(have->description) : json(nullptr), want.description});
        change.body = have ? json{{"description", want.description}}
                           : json{{"name", want.name}, {"description", want.description}};
    }
    std::set_difference(want.permissions.begin(), want.permissions.end(), current.begin(),
                        current.end(),
                        std::inserter(change.permissions_added, change.permissions_added.end()));
    std::set_difference(
        current.begin(), current.end(), want.permissions.begin(), want.permissions.end(),
        std::inserter(change.permissions_removed, change.permissions_removed.end()));
    if (!change.permissions_added.empty() || !change.permissions_removed.empty()) {
        FieldChange permissions{"permissions", nullptr, nullptr};
        for (const auto& p : change.permissions_added)
            permissions.added.push_back(PermissionText(p));
        for (const auto& p : change.permissions_removed)
            permissions.removed.push_back(PermissionText(p));
        change.fields.push_back(permissions);
    }
    return change;
}

std::string GrantKey(const ClientGrant& grant) { return grant.client_id + " → " + grant.audience; }

Change GrantChange(const ClientGrant& want, const ClientGrant* have) {
    Change change{have ? Action::kUpdate : Action::kCreate, Kind::kClientGrant, GrantKey(want),
                  have ? have->id : ""};
    static const std::set<std::string> kNone;
    const auto& current = have ? have->scope : kNone;
    if (have && current == want.scope) return change;
    FieldChange scope{"scope", nullptr, nullptr};
    std::set_difference(want.scope.begin(), want.scope.end(), current.begin(), current.end(),
                        std::back_inserter(scope.added));
    std::set_difference(current.begin(), current.end(), want.scope.begin(), want.scope.end(),
                        std::back_inserter(scope.removed));
    change.fields.push_back(scope);
    change.body = {{"scope", want.scope}};
    if (!have) {
        change.body["client_id"] = want.client_id;
        change.body["audience"] = want.audience;
    }
    return change;
}

bool Changes(const Change& change) {
    return change.action != Action::kUpdate || !change.fields.empty();
}

}  // namespace

std::vector<Change> Plan(const Tenant& desired, const Tenant& current, const PlanOptions& options) {
    std::vector<Change> changes;
    std::vector<Change> deletes;
    auto keep = [&changes](Change change) {
        if (Changes(change)) changes.push_back(std::move(change));
    };

    std::map<std::string, const ResourceServer*> servers;
    for (const auto& rs : current.resource_servers) servers[rs.identifier] = &rs;
    std::set<std::string> declared_servers;
    for (const auto& want : desired.resource_servers) {
        declared_servers.insert(want.identifier);
        auto it = servers.find(want.identifier);
        if (it != servers.end() && it->second->is_system) continue;  // Auth0's own: hands off
        keep(ResourceServerChange(want, it == servers.end() ? nullptr : it->second));
    }

    std::map<std::string, const Role*> roles;
    for (const auto& role : current.roles) roles[role.name] = &role;
    std::set<std::string> declared_roles;
    for (const auto& want : desired.roles) {
        declared_roles.insert(want.name);
        auto it = roles.find(want.name);
        keep(RoleChange(want, it == roles.end() ? nullptr : it->second));
    }

    std::map<std::string, const ClientGrant*> grants;
    for (const auto& grant : current.client_grants) grants[GrantKey(grant)] = &grant;
    std::set<std::string> declared_grants;
    for (const auto& want : desired.client_grants) {
        declared_grants.insert(GrantKey(want));
        auto it = grants.find(GrantKey(want));
        keep(GrantChange(want, it == grants.end() ? nullptr : it->second));
    }

    if (options.prune) {
        for (const auto& grant : current.client_grants) {
            if (grant.is_system || !options.managed_clients.count(grant.client_id) ||
                declared_grants.count(GrantKey(grant)))
                continue;
            changes.push_back({Action::kDelete, Kind::kClientGrant, GrantKey(grant), grant.id});
        }
        for (const auto& role : current.roles) {
            if (declared_roles.count(role.name)) continue;
            changes.push_back({Action::kDelete, Kind::kRole, role.name, role.id});
        }
        for (const auto& rs : current.resource_servers) {
            if (rs.is_system || declared_servers.count(rs.identifier)) continue;
            changes.push_back({Action::kDelete, Kind::kResourceServer, rs.identifier, rs.id});
        }
    }
    return changes;
}

std::string_view ToString(Action action) {
    switch (action) {
        case Action::kCreate:
            return "create";
        case Action::kUpdate:
            return "update";
        case Action::kDelete:
            return "delete";
    }
    return "?";
}

std::string_view ToString(Kind kind) {
    switch (kind) {
        case Kind::kResourceServer:
            return "resource_server";
        case Kind::kRole:
            return "role";
        case Kind::kClientGrant:
            return "client_grant";
    }
    return "?";
}

std::string RenderText(const Change& change) {
    static const std::map<Action, std::string> kMark = {
        {Action::kCreate, "+"}, {Action::kUpdate, "~"}, {Action::kDelete, "-"}};
    std::string text = kMark.at(change.action) + " " + std::string(ToString(change.kind)) + " " +
                       change.key + (change.id.empty() ? "" : " (" + change.id + ")") + "\n";
    auto value = [](const json& v) { return v.is_null() ? std::string("(none)") : v.dump(); };
    for (const auto& field : change.fields) {
        text += "    " + field.field + ": ";
        if (field.added.empty() && field.removed.empty()) {
            text += value(field.before) + " → " + value(field.after) + "\n";
            continue;
        }
        std::string items;
        for (const auto& a : field.added)
            items += (items.empty() ? "+ " : ", + ") + a.get<std::string>();
        for (const auto& r : field.removed)
            items += (items.empty() ? "- " : ", - ") + r.get<std::string>();
        text += items + "\n";
    }
    return text;
}

json RenderJson(const Change& change) {
    json fields = json::array();
    for (const auto& f : change.fields) {
        fields.push_back({{"field", f.field},
                          {"before", f.before},
                          {"after", f.after},
                          {"added", f.added},
                          {"removed", f.removed}});
    }
    json added = json::array(), removed = json::array();
    for (const auto& p : change.permissions_added) added.push_back(PermissionJson(p));
    for (const auto& p : change.permissions_removed) removed.push_back(PermissionJson(p));
    json out = {{"action", ToString(change.action)},
                {"kind", ToString(change.kind)},
                {"key", change.key},
                {"id", change.id},
                {"fields", fields}};
    if (change.kind == Kind::kRole) {
        out["permissions_added"] = added;
        out["permissions_removed"] = removed;
    }
    return out;
}

}  // namespace kyc_bridge::tenant
