// SPDX-License-Identifier: Apache-2.0
// The metrics catalogue (issue #8): names and labels are a contract with dashboards and alerts.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kyc_bridge/auth0/management_client.hpp"
#include "kyc_bridge/kafka/kafka.hpp"
#include "kyc_bridge/observe/metrics_server.hpp"
#include "kyc_bridge/provision/provisioner.hpp"
#include "kyc_bridge/provision/role_batcher.hpp"
#include "kyc_bridge/relay/relay.hpp"
#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::app {

struct IngestCounters {
    std::atomic<std::uint64_t> accepted{0}, duplicates{0}, rejected{0}, store_errors{0};
    std::atomic<bool> store_writable{true};  ///< the last inbox write succeeded
};

/// A client status that appears later than the readers (the consumer is made last). Thread-safe.
class StatusSlot {
public:
    void Set(std::shared_ptr<const kafka::ClientStatus> status) {
        std::lock_guard lock(mutex_);
        status_ = std::move(status);
    }
    std::shared_ptr<const kafka::ClientStatus> Get() const {
        std::lock_guard lock(mutex_);
        return status_;
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const kafka::ClientStatus> status_;
};

/// The metrics fed from hooks rather than read from counters: histograms and counters whose
/// labels are only known as they happen. Created before the modules, so that their hooks can
/// point here. Thread-safe (prometheus-cpp families are).
class HookedMetrics {
public:
    /// `server` must outlive this object.
    HookedMetrics(observe::MetricsServer& server, std::string input_topic);
    ~HookedMetrics();

    void StoreCommitted(std::chrono::microseconds took);
    void Auth0Request(std::string_view route, std::string_view code, double seconds);
    /// A job done: occurred_at → now into the provisioning-latency histogram.
    void JobDone(const provision::Job& job);
    /// One consumed batch as the inbox took it: per-result counts; rejected ones by reason code.
    void Consumed(const store::IngestSummary& summary,
                  const std::vector<store::RejectedEvent>& rejected);

private:
    struct Families;
    std::unique_ptr<Families> families_;
};

/// What the scrape-time source reads. Everything referenced outlives the metrics server.
struct MetricInputs {
    const IngestCounters& ingested;
    const provision::ProvisionStats& jobs;
    const provision::RunnerStats& runner;
    const provision::RoleBatchStats& role_batches;
    const relay::RelayStats& outbox;
    const auth0::Auth0Stats& auth0;
    const auth0::PacerStats& pacer;
    store::Store& store;
    const StatusSlot& consumer;
};

/// Registers the counters and gauges read at each scrape (store gauges included).
void AddMetricSources(observe::MetricsServer& metrics, MetricInputs in);

/// What /healthz and /readyz read. Everything referenced outlives the probes (detached first).
struct ProbeInputs {
    const core::Clock& clock;
    const std::atomic<bool>& consuming;  ///< the consumer runs: start-up is over
    const observe::Heartbeat& consumer_beat;
    const StatusSlot& consumer;
    std::shared_ptr<const kafka::ClientStatus> producer;
    const provision::ProvisionStats& jobs;
    const relay::RelayStats& relay;
    const auth0::Auth0Stats& auth0;
    store::Store& store;
    const IngestCounters& ingested;
    const std::atomic<bool>& stopping;       ///< SIGTERM came: the loops end, draining is healthy
    std::function<void()> refresh_token;     ///< non-blocking token fetch when none is to be had
};

/// Sets the /healthz handler (the consumer, scheduler and relay loops each turned within
/// kLoopBound) and the /readyz handler (consumer assigned and brokers reachable, producer not
/// fatally failed, store writable, a token to be had, not quarantined; "starting" before the
/// consumer runs).
void SetProbes(observe::MetricsServer& metrics, ProbeInputs in);
/// The two answers SetProbes serves, for the service manager's READY=1 and WATCHDOG=1 (the
/// same conditions as /readyz and /healthz).
observe::ProbeHandler HealthProbe(ProbeInputs in);
observe::ProbeHandler ReadinessProbe(ProbeInputs in);
inline constexpr std::chrono::seconds kLoopBound{30};

/// RFC 3339 date-time → UNIX milliseconds; nullopt if it does not parse.
std::optional<std::int64_t> ParseRfc3339Millis(std::string_view text);

}  // namespace kyc_bridge::app
