// SPDX-License-Identifier: Apache-2.0
// One HTTP listener for /metrics (Prometheus text format), /healthz and /readyz.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kyc_bridge/observe/health.hpp"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace kyc_bridge::observe {

enum class MetricType { kCounter, kGauge };

/// One value at scrape time. Labels carry kinds and outcomes, never personal data.
struct Sample {
    std::string name;
    std::string help;
    MetricType type = MetricType::kCounter;
    std::map<std::string, std::string> labels;
    double value = 0;
};

/// Appends the current values of one module's counters.
using SampleSource = std::function<void(std::vector<Sample>&)>;

/// Answers one probe at request time.
using ProbeHandler = std::function<ProbeAnswer()>;

/// An HTTP listener (civetweb, the server prometheus-cpp's own exposer runs on) that serves
///  - /metrics: every source's samples and the registry's metrics (histograms), rendered by
///    prometheus-cpp's TextSerializer;
///  - /healthz and /readyz: the handlers' answers as JSON; until a handler is set, /healthz
///    answers 200 and /readyz 503 {"ready":false,"reasons":["starting"]}.
/// It serves from construction on, so that probes work during start-up.
/// Throws std::runtime_error if `listen` ("host:port") cannot be bound.
class MetricsServer {
public:
    explicit MetricsServer(const std::string& listen);
    /// Stops the listener; requests in progress finish first.
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    /// The port actually bound (useful with a listen address of port 0).
    int port() const;
    /// Sources must outlive the server. Thread-safe.
    void AddSource(SampleSource source);
    /// For metrics the plain-counter sources cannot express (histograms, labelled counters
    /// fed from hooks). prometheus-cpp's registry and its families are thread-safe.
    prometheus::Registry& registry();
    /// Replace the /healthz or /readyz handler. Handlers run on the server's threads and must
    /// not block for long; what they read must outlive the server. Thread-safe.
    void SetHealth(ProbeHandler handler);
    void SetReadiness(ProbeHandler handler);
    /// Drops every source and handler, waiting for a scrape or probe in progress: call before
    /// what they read goes away. The registry's metrics stay. Thread-safe.
    void Detach();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kyc_bridge::observe
