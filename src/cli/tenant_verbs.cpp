// SPDX-License-Identifier: Apache-2.0
// `tenant plan|apply`: read the file and the tenant, plan, print, and (apply) make the changes.
#include "tenant_verbs.hpp"

#include <iostream>

#include "kyc_bridge/config/config.hpp"
#include "kyc_bridge/tenant/tenant.hpp"

namespace kyc_bridge::cli {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitChangesPending = 2;  // plan only, as terraform's -detailed-exitcode

tenant::ApiSettings SettingsFrom(const config::Auth0Config& a) {
    tenant::ApiSettings s;
    s.base_url = a.base_url;
    s.client_id = a.client_id;
    s.client_secret = a.client_secret;
    s.audience = a.audience;
    s.ca_file = a.ca_file;
    s.allow_insecure_http = a.allow_insecure_http;
    s.connect_timeout_ms = a.connect_timeout_ms;
    s.request_timeout_ms = a.request_timeout_ms;
    if (a.max_requests_per_second > 0) s.max_requests_per_second = a.max_requests_per_second;
    return s;
}

void PrintSummary(const std::vector<tenant::Change>& changes, std::size_t prunable,
                  const std::string& file) {
    std::size_t counts[3] = {0, 0, 0};
    for (const auto& c : changes) ++counts[static_cast<int>(c.action)];
    if (changes.empty()) {
        std::cout << "No changes: the tenant matches " << file << ".\n";
    } else {
        std::cout << "Plan: " << counts[0] << " to create, " << counts[1] << " to update, "
                  << counts[2] << " to delete.\n";
    }
    if (prunable > 0) {
        std::cout << prunable << " object(s) in the tenant are not in " << file
                  << "; --prune would delete them.\n";
    }
}

/// In a real tenant a grant's scopes are the scopes of the client's next token: a grant to the
/// client these verbs run as that leaves out what they read locks them out after apply.
void WarnOfSelfLockout(const tenant::Tenant& desired, const config::Auth0Config& a) {
    static const std::vector<std::string> kNeeded = {"read:resource_servers", "read:roles",
                                                     "read:client_grants"};
    for (const auto& grant : desired.client_grants) {
        if (grant.client_id != a.client_id || grant.audience != a.audience) continue;
        std::string missing;
        for (const auto& scope : kNeeded) {
            if (!grant.scope.count(scope)) missing += (missing.empty() ? "" : ", ") + scope;
        }
        if (missing.empty()) continue;
        std::cerr << "kyc-bridge: tenant: warning: the grant of " << grant.client_id
                  << " (the client these credentials are) leaves out " << missing
                  << ", which tenant plan needs: once applied, its next token cannot read the "
                     "tenant. Run tenant verbs with an operator application's --config and set "
                     "client_id in the tenant file to kyc-bridge's.\n";
    }
}

}  // namespace

TenantCommands::TenantCommands(CLI::App& app) {
    tenant_ = app.add_subcommand("tenant", "Tenant as code: APIs, roles, client grants");
    tenant_->require_subcommand(1);
    plan_ = tenant_->add_subcommand("plan", "Show what apply would change; exit 2 if anything");
    apply_ = tenant_->add_subcommand("apply", "Make the tenant match the file");
    for (auto* verb : {plan_, apply_}) {
        verb->add_option("--tenant", tenant_path_, "tenant file (TOML)")->capture_default_str();
        verb->add_option("-c,--config", config_path_, "kyc-bridge config: Auth0 credentials")
            ->capture_default_str();
        verb->add_flag("--prune", prune_, "also delete what the file does not declare");
        verb->add_flag("--json", json_, "one JSON object per change");
    }
}

int TenantCommands::Execute() {
    config::Config config;
    tenant::Tenant desired;
    try {
        config = config::LoadConfig(config_path_, config::ProcessEnvironment());
        desired =
            tenant::LoadTenantFile(tenant_path_, {config.auth0.client_id, config.auth0.audience});
    } catch (const std::exception& e) {
        std::cerr << "kyc-bridge: tenant: " << e.what() << "\n";
        return kExitError;
    }
    WarnOfSelfLockout(desired, config.auth0);
    core::SystemClock clock;
    auto api = tenant::ConnectManagementApi(SettingsFrom(config.auth0), clock);
    auto current = tenant::ReadTenant(*api);
    if (!current) {
        std::cerr << "kyc-bridge: tenant: " << current.error().message << "\n";
        return kExitError;
    }
    tenant::PlanOptions options{prune_, {config.auth0.client_id}};
    for (const auto& grant : desired.client_grants) options.managed_clients.insert(grant.client_id);
    const auto changes = tenant::Plan(desired, *current, options);
    auto all = options;
    all.prune = true;
    std::size_t prunable = 0;
    if (!prune_) {
        for (const auto& c : tenant::Plan(desired, *current, all))
            prunable += c.action == tenant::Action::kDelete;
    }
    for (const auto& change : changes) {
        if (json_) {
            std::cout << tenant::RenderJson(change).dump() << "\n";
        } else {
            std::cout << tenant::RenderText(change);
        }
    }
    if (!json_) PrintSummary(changes, prunable, tenant_path_);
    if (plan_->parsed()) return changes.empty() ? kExitOk : kExitChangesPending;

    auto applied = tenant::Apply(*api, changes, [this](const tenant::Change& c) {
        if (json_) return;
        std::cout << "done: " << tenant::ToString(c.action) << " " << tenant::ToString(c.kind)
                  << " " << c.key << "\n";
    });
    if (!applied) {
        std::cerr << "kyc-bridge: tenant: apply stopped: " << applied.error().message
                  << " (what was done stays done; run `tenant plan` to see what is left)\n";
        return kExitError;
    }
    if (!json_) std::cout << "Applied " << changes.size() << " change(s).\n";
    return kExitOk;
}

}  // namespace kyc_bridge::cli
