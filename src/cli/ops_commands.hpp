// SPDX-License-Identifier: Apache-2.0
// Ops verbs on the store, safe while the daemon runs (SQLite WAL): list and replay jobs.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::cli {

/// Registers `jobs list`, `jobs replay`, `rejected list`, `outbox set-aside` on `app`; Execute() runs the chosen one.
class OpsCommands {
public:
    explicit OpsCommands(CLI::App& app);
    /// Returns the exit code: 0 done, 1 store error, 2 config error, 3 nothing to replay.
    int Execute();

private:
    int PrintSetAside(store::Store& store) const;

    CLI::App* jobs_list_ = nullptr;
    CLI::App* jobs_replay_ = nullptr;
    CLI::App* rejected_list_ = nullptr;
    CLI::App* set_aside_list_ = nullptr;
    std::string config_path_ = "config/kyc-bridge.toml";
    std::string state_ = "failed";
    std::size_t limit_ = 100;
    bool json_ = false;
    std::int64_t job_id_ = 0;
};

}  // namespace kyc_bridge::cli
