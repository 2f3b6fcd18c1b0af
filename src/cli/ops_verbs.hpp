// SPDX-License-Identifier: Apache-2.0
// The ops verbs behind OpsCommands, one function each, and the helpers they share.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::cli {

/// Exit codes of every ops verb.
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblem = 1;  ///< store error, unknown id, a check that failed
inline constexpr int kExitConfig = 2;
inline constexpr int kExitNothing = 3;  ///< nothing to replay

/// What the command line said; each verb reads the fields it registered.
struct OpsOptions {
    std::string config_path = "config/kyc-bridge.toml";
    std::string store_path;  ///< --store: wins over the config's store.path
    bool json = false;
    std::size_t limit = 100;
    std::string state = "failed";
    std::string since;  ///< a duration: 30m, 2h, 7d
    std::string error_class;
    std::string customer;
    std::vector<std::int64_t> job_ids;
    std::int64_t id = 0;
    bool all_failed = false;
    bool dry_run = false;
    double max_per_second = 0;
    std::string reason;
    std::string older_than;  ///< purge: a duration
};

/// "45s", "30m", "2h", "7d" → that duration. Throws std::invalid_argument naming the text.
std::chrono::milliseconds ParseDuration(const std::string& text);
/// Unix ms → "2026-11-22T10:00:00Z" (UTC). 0 → "-".
std::string FormatTime(std::int64_t unix_ms);
/// Now as Unix ms.
std::int64_t NowMs();
/// The failed-job filter of --since, --error-class and --customer.
store::FailedFilter FilterFrom(const OpsOptions& options, std::size_t limit);
/// The audit context of this process: `action`, `reason`, the effective OS user, the host name.
store::AuditContext Actor(const std::string& action, const std::string& reason);

// Verbs on an open store; each prints human text, or JSON with options.json, and returns the
// exit code. A store error throws std::runtime_error (OpsCommands prints it, exit 1).
int Status(store::Store& store, const OpsOptions& options);
int JobsList(store::Store& store, const OpsOptions& options);
int FailedList(store::Store& store, const OpsOptions& options);
int FailedShow(store::Store& store, const OpsOptions& options);
int SetAsideList(store::Store& store, const OpsOptions& options);
/// `replay`, and `jobs replay ID` (options.reason "jobs replay", no filters).
int Replay(store::Store& store, const OpsOptions& options);
int RejectedList(store::Store& store, const OpsOptions& options);
int RejectedReplay(store::Store& store, const OpsOptions& options);
int AuditList(store::Store& store, const OpsOptions& options);
/// `purge --older-than D [--dry-run]`: erases the personal fields of rejected events and failed
/// jobs older than D (they can then no longer be replayed); audited with the counts.
int Purge(store::Store& store, const OpsOptions& options);

/// `check-config`: loads the config with its secret, prints the effective values, fetches a
/// token and checks its scopes, resolves the roles and checks the topics. Needs no store.
int CheckConfig(const OpsOptions& options);

/// Throws std::runtime_error with the store's message unless `result` holds a value.
template <typename T>
T Must(core::Result<T> result) {
    if (!result) throw std::runtime_error(result.error().message);
    return std::move(result.value());
}

}  // namespace kyc_bridge::cli
