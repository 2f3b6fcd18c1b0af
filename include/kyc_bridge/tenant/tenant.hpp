// SPDX-License-Identifier: Apache-2.0
// Tenant as code (#10): the declared Auth0 tenant, the tenant as read, and the plan between them.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::tenant {

struct Scope {
    std::string value;
    std::string description;
    bool operator==(const Scope&) const = default;
};

/// An API. Optional fields are compared only when the file declares them.
struct ResourceServer {
    std::string id;          ///< Auth0's id; empty in the declared tenant
    std::string identifier;  ///< the audience; the key (Auth0 cannot change it)
    std::string name;
    std::optional<bool> enforce_policies{};  ///< RBAC
    std::optional<std::string> token_dialect{};
    std::optional<int> token_lifetime{};
    std::optional<bool> allow_offline_access{};
    std::optional<bool> skip_consent_for_verifiable_first_party_clients{};
    std::vector<Scope> scopes{};  ///< compared as a set of (value, description)
    bool is_system = false;       ///< Auth0's own APIs: never changed nor deleted
};

struct Permission {
    std::string resource_server_identifier;
    std::string permission_name;
    auto operator<=>(const Permission&) const = default;
};

struct Role {
    std::string id;    ///< empty in the declared tenant
    std::string name;  ///< the key
    std::string description{};
    std::set<Permission> permissions{};
};

struct ClientGrant {
    std::string id;  ///< empty in the declared tenant
    std::string client_id;
    std::string audience;           ///< (client_id, audience) is the key
    std::set<std::string> scope{};  ///< exactly these scopes
    bool is_system = false;
};

struct Tenant {
    std::vector<ResourceServer> resource_servers;
    std::vector<Role> roles;
    std::vector<ClientGrant> client_grants;
};

/// Where the file's defaults come from: the daemon's config (--config).
struct FileDefaults {
    std::string client_id;  ///< auth0.client_id
    std::string audience;   ///< auth0.audience
};

/// Reads a tenant file (config/tenant.toml documents every key). Throws std::runtime_error
/// naming the file and key on a syntax error, an unknown key, a missing or mistyped value, a
/// duplicate key object, or a role permission naming a scope its declared API lacks.
Tenant LoadTenantFile(const std::string& path, const FileDefaults& defaults);
/// The same from TOML text (tests).
Tenant ParseTenantFile(const std::string& toml_text, const FileDefaults& defaults,
                       const std::string& source_name = "tenant");

enum class Action { kCreate, kUpdate, kDelete };
enum class Kind { kResourceServer, kRole, kClientGrant };

/// One field that differs: values as JSON (null = absent). For sets, `added`/`removed`.
struct FieldChange {
    std::string field;
    nlohmann::json before;
    nlohmann::json after;
    nlohmann::json added = nlohmann::json::array();
    nlohmann::json removed = nlohmann::json::array();
};

/// One object to create, update or delete, with everything Apply needs.
struct Change {
    Action action = Action::kCreate;
    Kind kind = Kind::kResourceServer;
    std::string key;  ///< identifier, role name, or "client_id → audience"
    std::string id;   ///< Auth0's id of the current object (update, delete)
    std::vector<FieldChange> fields{};
    nlohmann::json body{};  ///< POST (create) or PATCH (update) body; null if nothing to PATCH
    std::set<Permission> permissions_added{};    ///< roles only
    std::set<Permission> permissions_removed{};  ///< roles only
};

struct PlanOptions {
    /// Delete current objects the file does not declare: APIs (not Auth0's system ones), roles,
    /// and grants of `managed_clients`. Without it nothing is ever deleted.
    bool prune = false;
    std::set<std::string> managed_clients;  ///< clients whose grants the file owns
};

/// desired vs current → the changes, in a stable order (APIs, roles, grants; deletes last).
/// Objects are matched by key; fields the file declares are made exactly so (a role's
/// permissions and a grant's scopes included). Pure; never throws.
std::vector<Change> Plan(const Tenant& desired, const Tenant& current, const PlanOptions& options);

std::string_view ToString(Action action);
std::string_view ToString(Kind kind);
/// "+ role ROLE_OPS" and one indented "field: old → new" line per field.
std::string RenderText(const Change& change);
/// {"action","kind","key","id","fields":[{"field","before","after","added","removed"}]}
nlohmann::json RenderJson(const Change& change);

/// One Management API request: `endpoint` is the template for messages ("GET
/// /api/v2/roles/{id}"), `path` the concrete path and query. Returns the parsed answer body
/// (null when empty) or the classified error, after the implementation's retries.
class ManagementApi {
public:
    virtual ~ManagementApi() = default;
    virtual core::Result<nlohmann::json> Call(const std::string& method,
                                              const std::string& endpoint, const std::string& path,
                                              const std::optional<nlohmann::json>& body) = 0;
};

/// What ConnectManagementApi needs: the daemon's auth0 settings.
struct ApiSettings {
    std::string base_url;
    std::string client_id;
    std::string client_secret;  ///< never logged
    std::string audience;
    std::string ca_file;
    bool allow_insecure_http = false;
    int connect_timeout_ms = 3000;
    int request_timeout_ms = 10000;
    std::optional<double> max_requests_per_second;
    int max_attempts = 6;  ///< per request, for transient failures; 429s spend none
};

/// The production ManagementApi: auth0::TokenCache, auth0::Pacer and auth0::ClassifyAnswer, as
/// the daemon uses them; a 401 refetches the token once; 429 waits for Retry-After/reset;
/// transient failures back off (full jitter). Blocking; one caller at a time.
std::unique_ptr<ManagementApi> ConnectManagementApi(ApiSettings settings, const core::Clock& clock);

/// Reads every API, role (with permissions) and client grant (paged, 100 at a time).
core::Result<Tenant> ReadTenant(ManagementApi& api);
/// Makes `changes` (from Plan): permission removals first, then creates and updates of APIs,
/// roles and grants, then deletes (grants, roles, APIs). Stops at the first error; `done` is
/// called after each change is made.
core::Status Apply(ManagementApi& api, const std::vector<Change>& changes,
                   const std::function<void(const Change&)>& done);

}  // namespace kyc_bridge::tenant
