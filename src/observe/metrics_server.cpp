// SPDX-License-Identifier: Apache-2.0
// A prometheus::Collectable that turns Samples into metric families at scrape time.
#include "kyc_bridge/observe/metrics_server.hpp"

#include <mutex>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

namespace kyc_bridge::observe {
namespace {

class SourceCollectable final : public prometheus::Collectable {
public:
    void Add(SampleSource source) {
        std::lock_guard lock(mutex_);
        sources_.push_back(std::move(source));
    }

    std::vector<prometheus::MetricFamily> Collect() const override {
        std::vector<Sample> samples;
        {
            std::lock_guard lock(mutex_);
            for (const auto& source : sources_) source(samples);
        }
        std::vector<prometheus::MetricFamily> families;
        std::map<std::string, std::size_t> index;
        for (const auto& sample : samples) {
            auto [it, inserted] = index.emplace(sample.name, families.size());
            if (inserted) {
                prometheus::MetricFamily family;
                family.name = sample.name;
                family.help = sample.help;
                family.type = sample.type == MetricType::kCounter ? prometheus::MetricType::Counter
                                                                  : prometheus::MetricType::Gauge;
                families.push_back(std::move(family));
            }
            prometheus::ClientMetric metric;
            for (const auto& [name, value] : sample.labels) metric.label.push_back({name, value});
            if (sample.type == MetricType::kCounter) {
                metric.counter.value = sample.value;
            } else {
                metric.gauge.value = sample.value;
            }
            families[it->second].metric.push_back(std::move(metric));
        }
        return families;
    }

private:
    mutable std::mutex mutex_;
    std::vector<SampleSource> sources_;
};

}  // namespace

struct MetricsServer::Impl {
    explicit Impl(const std::string& listen) : exposer(listen, 2) {}
    prometheus::Exposer exposer;
    std::shared_ptr<SourceCollectable> collectable = std::make_shared<SourceCollectable>();
};

MetricsServer::MetricsServer(const std::string& listen) : impl_(std::make_unique<Impl>(listen)) {
    impl_->exposer.RegisterCollectable(impl_->collectable, "/metrics");
}

MetricsServer::~MetricsServer() = default;

int MetricsServer::port() const {
    auto ports = impl_->exposer.GetListeningPorts();
    return ports.empty() ? 0 : ports.front();
}

void MetricsServer::AddSource(SampleSource source) { impl_->collectable->Add(std::move(source)); }

}  // namespace kyc_bridge::observe
