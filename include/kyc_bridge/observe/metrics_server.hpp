// SPDX-License-Identifier: Apache-2.0
// Renders the modules' plain counters as Prometheus metrics on /metrics.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

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

/// An HTTP listener (prometheus-cpp's exposer) that asks every source at each scrape.
/// Throws std::runtime_error if `listen` ("host:port") cannot be bound.
class MetricsServer {
public:
    explicit MetricsServer(const std::string& listen);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    /// The port actually bound (useful with a listen address of port 0).
    int port() const;
    /// Sources must outlive the server. Thread-safe.
    void AddSource(SampleSource source);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kyc_bridge::observe
