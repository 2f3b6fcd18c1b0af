// SPDX-License-Identifier: Apache-2.0
// Ops verbs on the store, safe while the daemon runs (SQLite WAL), and check-config.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

#include "ops_verbs.hpp"

namespace kyc_bridge::cli {

/// Registers the ops verbs on `app`: status, failed list|show, replay, rejected list|replay,
/// audit list, outbox set-aside, check-config, and the older jobs list|replay. Execute() runs
/// the chosen one. Every store verb takes --store PATH or --config FILE (the store path only:
/// no Auth0 secret needed) and --json; a store file that does not exist is an error.
class OpsCommands {
public:
    explicit OpsCommands(CLI::App& app);
    /// Returns the exit code (kExitOk, kExitProblem, kExitConfig, kExitNothing).
    int Execute();

private:
    using Verb = std::function<int(store::Store&, const OpsOptions&)>;
    /// Adds --config, --store and --json to `command` and remembers what it runs.
    CLI::App* AddStoreVerb(CLI::App* parent, const std::string& name, const std::string& help,
                           Verb verb);
    void AddFilters(CLI::App* command);

    OpsOptions options_;
    std::vector<std::pair<CLI::App*, Verb>> verbs_;
    CLI::App* jobs_replay_ = nullptr;
    CLI::App* check_config_ = nullptr;
};

}  // namespace kyc_bridge::cli
