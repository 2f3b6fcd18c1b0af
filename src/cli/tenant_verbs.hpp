// SPDX-License-Identifier: Apache-2.0
// `kyc-bridge tenant plan|apply`: the Auth0 tenant made to match config/tenant.toml (#10).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace kyc_bridge::cli {

/// Registers `tenant plan` and `tenant apply` (--tenant FILE, --config FILE, --prune, --json).
/// Exit codes: plan 0 = nothing to change, 2 = changes pending; apply 0 = done; both 1 on any
/// error (config, tenant file, Auth0), so that 2 always means "changes pending".
class TenantCommands {
public:
    explicit TenantCommands(CLI::App& app);
    /// Whether the command line chose `tenant`.
    bool Chosen() const { return tenant_->parsed(); }
    int Execute();

private:
    CLI::App* tenant_ = nullptr;
    CLI::App* plan_ = nullptr;
    CLI::App* apply_ = nullptr;
    std::string tenant_path_ = "config/tenant.toml";
    std::string config_path_ = "config/kyc-bridge.toml";
    bool prune_ = false;
    bool json_ = false;
};

}  // namespace kyc_bridge::cli
