// SPDX-License-Identifier: Apache-2.0
// One benchmark world: the mock Kafka cluster and the Auth0 emulator as processes, the real
// kyc-bridge started on them, and what the benchmark reads from outside (emulator stats,
// /metrics, /proc).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "child_process.hpp"

namespace kyc_bridge::bench {

inline constexpr const char* kInputTopic = "customer.kyc_verified";
inline constexpr const char* kOutputTopic = "auth.user_created";

/// The Auth0 stand-in's behaviour for a scenario.
struct TenantOptions {
    int latency_ms = 0;          ///< added to every call (the emulator's delay fault)
    double rate_per_second = 0;  ///< Management API bucket; 0 = unlimited
    double burst = 0;
};

/// The daemon's [provision] keys for a scenario; 0 = leave the key out (the daemon's default).
struct ProvisionOptions {
    int concurrency = 0;
    int max_emails_in_flight = 0;
};

/// What /proc says about a running process.
struct ProcessSample {
    double cpu_ms = 0;       ///< utime + stime
    double peak_rss_mb = 0;  ///< VmHWM
};
/// Throws std::runtime_error if /proc/<pid> cannot be read.
ProcessSample SampleProcess(pid_t pid);

/// The emulator's /__emulator/stats counters the benchmark reports.
struct TenantStats {
    int management_requests = 0;
    int rate_limited = 0;
    int token_requests = 0;
};

/// Owns the processes of one scenario and its temporary directory (removed at the end).
/// Not thread-safe. Constructors and methods throw std::runtime_error when a process does not
/// start or answer.
class World {
public:
    World(const std::string& name, const TenantOptions& tenant);
    ~World();
    World(const World&) = delete;
    World& operator=(const World&) = delete;

    const std::string& brokers() const { return brokers_; }
    int metrics_port() const { return metrics_port_; }

    /// Writes the config (only the [provision] keys that are set) and starts kyc-bridge on the
    /// world's store; waits until /metrics says it is ready.
    testing::ChildProcess& StartDaemon(const ProvisionOptions& provision);
    /// SIGTERM and wait for the exit; returns false if it did not exit within the timeout.
    bool StopDaemon();
    TenantStats Stats();
    /// The value of a metric line starting with `series` (name plus labels), or -1.
    double Metric(const std::string& series);

private:
    std::string dir_;
    std::string brokers_;
    std::string emulator_url_;
    int metrics_port_ = 0;
    std::unique_ptr<testing::ChildProcess> kafka_;
    std::unique_ptr<testing::ChildProcess> emulator_;
    std::unique_ptr<testing::ChildProcess> daemon_;
    int daemon_starts_ = 0;
};

/// A customer.kyc_verified value whose occurred_at is `occurred_at` (RFC 3339 with ms).
nlohmann::json KycEvent(const std::string& customer_id, const std::string& occurred_at);
/// The wall-clock time in RFC 3339 with milliseconds, UTC.
std::string Rfc3339Now();

}  // namespace kyc_bridge::bench
