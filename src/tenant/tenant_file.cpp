// SPDX-License-Identifier: Apache-2.0
// The tenant file (config/tenant.toml) → the declared Tenant; every key checked, unknown ones
// refused.
#include <toml++/toml.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "kyc_bridge/tenant/tenant.hpp"

namespace kyc_bridge::tenant {

namespace {

class FileError : public std::runtime_error {
public:
    FileError(const std::string& source, const std::string& where, const std::string& what)
        : std::runtime_error(source + ": " + where + ": " + what) {}
};

/// One TOML table read key by key; Done() refuses the keys nobody asked for.
class Fields {
public:
    Fields(const toml::table& table, std::string where, const std::string& source)
        : table_(table), where_(std::move(where)), source_(source) {}

    std::optional<std::string> String(const std::string& key, bool required = false) {
        const auto* node = Find(key, required);
        if (!node) return std::nullopt;
        if (!node->is_string()) Fail(key, "must be a string");
        return *node->value<std::string>();
    }
    std::optional<bool> Bool(const std::string& key) {
        const auto* node = Find(key, false);
        if (!node) return std::nullopt;
        if (!node->is_boolean()) Fail(key, "must be true or false");
        return *node->value<bool>();
    }
    std::optional<int> Int(const std::string& key) {
        const auto* node = Find(key, false);
        if (!node) return std::nullopt;
        if (!node->is_integer()) Fail(key, "must be an integer");
        const auto v = *node->value<std::int64_t>();
        if (v < 0 || v > 2592000) Fail(key, "must be 0 to 2592000");
        return static_cast<int>(v);
    }
    /// An array of tables (`[[key]]` or `key = [{...}]`); empty if absent.
    std::vector<const toml::table*> Tables(const std::string& key) {
        std::vector<const toml::table*> tables;
        const auto* node = Find(key, false);
        if (!node) return tables;
        const auto* array = node->as_array();
        if (!array) Fail(key, "must be an array of tables");
        for (const auto& item : *array) {
            if (!item.is_table()) Fail(key, "must be an array of tables");
            tables.push_back(item.as_table());
        }
        return tables;
    }
    std::set<std::string> Strings(const std::string& key) {
        std::set<std::string> values;
        const auto* node = Find(key, false);
        if (!node) return values;
        const auto* array = node->as_array();
        if (!array) Fail(key, "must be an array of strings");
        for (const auto& item : *array) {
            if (!item.is_string() || item.value<std::string>()->empty())
                Fail(key, "must be an array of non-empty strings");
            if (!values.insert(*item.value<std::string>()).second)
                Fail(key, "lists '" + *item.value<std::string>() + "' twice");
        }
        return values;
    }
    void Done() const {
        for (const auto& [key, node] : table_) {
            if (!used_.count(std::string(key.str()))) Fail(std::string(key.str()), "unknown key");
        }
    }
    [[noreturn]] void Fail(const std::string& key, const std::string& what) const {
        throw FileError(source_, where_.empty() ? key : where_ + "." + key, what);
    }
    const std::string& where() const { return where_; }

private:
    const toml::node* Find(const std::string& key, bool required) {
        used_.insert(key);
        const auto* node = table_.get(key);
        if (!node && required) Fail(key, "is required");
        return node;
    }

    const toml::table& table_;
    std::string where_;
    const std::string& source_;
    std::set<std::string> used_;
};

std::string Indexed(const std::string& key, std::size_t i) {
    return key + "[" + std::to_string(i) + "]";
}

ResourceServer ReadResourceServer(Fields& f, const std::string& source) {
    ResourceServer rs;
    rs.identifier = *f.String("identifier", true);
    rs.name = *f.String("name", true);
    rs.enforce_policies = f.Bool("enforce_policies");
    rs.token_dialect = f.String("token_dialect");
    static const std::set<std::string> kDialects = {"access_token", "access_token_authz",
                                                    "rfc9068_profile", "rfc9068_profile_authz"};
    if (rs.token_dialect && !kDialects.count(*rs.token_dialect))
        f.Fail("token_dialect",
               "must be one of access_token, access_token_authz, "
               "rfc9068_profile, rfc9068_profile_authz");
    rs.token_lifetime = f.Int("token_lifetime");
    rs.allow_offline_access = f.Bool("allow_offline_access");
    rs.skip_consent_for_verifiable_first_party_clients =
        f.Bool("skip_consent_for_verifiable_first_party_clients");
    std::set<std::string> seen;
    const auto scopes = f.Tables("scopes");
    for (std::size_t i = 0; i < scopes.size(); ++i) {
        Fields s(*scopes[i], f.where() + "." + Indexed("scopes", i), source);
        Scope scope{*s.String("value", true), s.String("description").value_or("")};
        if (scope.value.empty()) s.Fail("value", "must not be empty");
        if (!seen.insert(scope.value).second) s.Fail("value", "'" + scope.value + "' twice");
        s.Done();
        rs.scopes.push_back(std::move(scope));
    }
    f.Done();
    return rs;
}

Role ReadRole(Fields& f, const std::string& source) {
    Role role;
    role.name = *f.String("name", true);
    role.description = f.String("description").value_or("");
    const auto permissions = f.Tables("permissions");
    for (std::size_t i = 0; i < permissions.size(); ++i) {
        Fields p(*permissions[i], f.where() + "." + Indexed("permissions", i), source);
        Permission permission{*p.String("resource_server_identifier", true),
                              *p.String("permission_name", true)};
        p.Done();
        if (!role.permissions.insert(permission).second)
            p.Fail("permission_name", "'" + permission.permission_name + "' twice");
    }
    f.Done();
    return role;
}

ClientGrant ReadClientGrant(Fields& f, const FileDefaults& defaults) {
    ClientGrant grant;
    grant.client_id = f.String("client_id").value_or(defaults.client_id);
    grant.audience = f.String("audience").value_or(defaults.audience);
    grant.scope = f.Strings("scope");
    if (grant.client_id.empty())
        f.Fail("client_id", "is required (no auth0.client_id to default to)");
    if (grant.audience.empty()) f.Fail("audience", "is required (no auth0.audience to default to)");
    f.Done();
    return grant;
}

/// A permission on an API the file declares must name one of its scopes.
void CheckPermissions(const Tenant& tenant, const std::string& source) {
    std::map<std::string, std::set<std::string>> scopes;
    for (const auto& rs : tenant.resource_servers) {
        for (const auto& s : rs.scopes) scopes[rs.identifier].insert(s.value);
    }
    for (const auto& role : tenant.roles) {
        for (const auto& p : role.permissions) {
            auto it = scopes.find(p.resource_server_identifier);
            if (it != scopes.end() && !it->second.count(p.permission_name)) {
                throw FileError(source, "roles." + role.name,
                                "permission '" + p.permission_name + "' is not a scope of " +
                                    p.resource_server_identifier);
            }
        }
    }
}

template <typename T, typename KeyOf>
void CheckUnique(const std::vector<T>& items, KeyOf key_of, const std::string& source,
                 const std::string& what) {
    std::set<std::string> seen;
    for (const auto& item : items) {
        if (!seen.insert(key_of(item)).second)
            throw FileError(source, what, "'" + key_of(item) + "' is declared twice");
    }
}

}  // namespace

Tenant ParseTenantFile(const std::string& toml_text, const FileDefaults& defaults,
                       const std::string& source_name) {
    toml::table root;
    try {
        root = toml::parse(toml_text, source_name);
    } catch (const toml::parse_error& e) {
        std::ostringstream where;
        where << "line " << e.source().begin.line;
        throw FileError(source_name, where.str(), std::string(e.description()));
    }
    Tenant tenant;
    Fields top(root, "", source_name);
    const auto servers = top.Tables("resource_servers");
    for (std::size_t i = 0; i < servers.size(); ++i) {
        Fields f(*servers[i], Indexed("resource_servers", i), source_name);
        tenant.resource_servers.push_back(ReadResourceServer(f, source_name));
    }
    const auto roles = top.Tables("roles");
    for (std::size_t i = 0; i < roles.size(); ++i) {
        Fields f(*roles[i], Indexed("roles", i), source_name);
        tenant.roles.push_back(ReadRole(f, source_name));
    }
    const auto grants = top.Tables("client_grants");
    for (std::size_t i = 0; i < grants.size(); ++i) {
        Fields f(*grants[i], Indexed("client_grants", i), source_name);
        tenant.client_grants.push_back(ReadClientGrant(f, defaults));
    }
    top.Done();
    CheckUnique(
        tenant.resource_servers, [](const ResourceServer& r) { return r.identifier; }, source_name,
        "resource_servers");
    CheckUnique(
        tenant.roles, [](const Role& r) { return r.name; }, source_name, "roles");
    CheckUnique(
        tenant.client_grants, [](const ClientGrant& g) { return g.client_id + " → " + g.audience; },
        source_name, "client_grants");
    CheckPermissions(tenant, source_name);
    return tenant;
}

Tenant LoadTenantFile(const std::string& path, const FileDefaults& defaults) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + ": cannot read the tenant file");
    std::ostringstream text;
    text << in.rdbuf();
    return ParseTenantFile(text.str(), defaults, path);
}

}  // namespace kyc_bridge::tenant
