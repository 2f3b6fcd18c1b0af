// SPDX-License-Identifier: Apache-2.0
// /metrics, /healthz and /readyz on one civetweb listener; samples become metric families at
// scrape time.
#include "kyc_bridge/observe/metrics_server.hpp"

#include <CivetServer.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>
#include <sstream>
#include <stdexcept>

namespace kyc_bridge::observe {
namespace {

std::vector<prometheus::MetricFamily> ToFamilies(const std::vector<Sample>& samples) {
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

void Reply(mg_connection* conn, int status, const char* content_type, const std::string& body) {
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
              status, status == 200 ? "OK" : "Service Unavailable", content_type, body.size());
    mg_write(conn, body.data(), body.size());
}

class ProbeEndpoint final : public CivetHandler {
public:
    explicit ProbeEndpoint(ProbeAnswer initial) : initial_(std::move(initial)) {}
    void Set(ProbeHandler handler) {
        std::lock_guard lock(mutex_);
        handler_ = std::move(handler);
    }
    bool handleGet(CivetServer*, mg_connection* conn) override {
        ProbeAnswer answer = initial_;
        try {
            // Under the lock: Set(nullptr) waits for a probe in progress (MetricsServer::Detach).
            std::lock_guard lock(mutex_);
            if (handler_) answer = handler_();
        } catch (const std::exception& e) {  // never across civetweb's C frames
            answer = {503, std::string(R"({"error":"probe failed"})")};
        }
        Reply(conn, answer.status, "application/json", answer.body);
        return true;
    }

private:
    const ProbeAnswer initial_;
    std::mutex mutex_;
    ProbeHandler handler_;
};

class MetricsEndpoint final : public CivetHandler {
public:
    explicit MetricsEndpoint(prometheus::Registry& registry) : registry_(registry) {}
    void Add(SampleSource source) {
        std::lock_guard lock(mutex_);
        sources_.push_back(std::move(source));
    }
    void Clear() {
        std::lock_guard lock(mutex_);
        sources_.clear();
    }
    bool handleGet(CivetServer*, mg_connection* conn) override {
        std::string body;
        try {
            std::vector<Sample> samples;
            {
                std::lock_guard lock(mutex_);
                for (const auto& source : sources_) source(samples);
            }
            auto families = ToFamilies(samples);
            auto more = registry_.Collect();
            families.insert(families.end(), std::make_move_iterator(more.begin()),
                            std::make_move_iterator(more.end()));
            std::ostringstream out;
            prometheus::TextSerializer().Serialize(out, families);
            body = out.str();
        } catch (const std::exception& e) {
            Reply(conn, 503, "text/plain", std::string("metrics unavailable\n"));
            return true;
        }
        Reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body);
        return true;
    }

private:
    prometheus::Registry& registry_;
    std::mutex mutex_;
    std::vector<SampleSource> sources_;
};

}  // namespace

struct MetricsServer::Impl {
    prometheus::Registry registry;
    MetricsEndpoint metrics{registry};
    ProbeEndpoint health{{200, R"({"status":"ok"})"}};
    ProbeEndpoint ready{{503, R"({"ready":false,"reasons":["starting"]})"}};
    std::unique_ptr<CivetServer> server;  // last: stopped before the endpoints go
};

MetricsServer::MetricsServer(const std::string& listen) : impl_(std::make_unique<Impl>()) {
    try {
        impl_->server = std::make_unique<CivetServer>(
            std::vector<std::string>{"listening_ports", listen, "num_threads", "4"});
    } catch (const CivetException& e) {
        throw std::runtime_error("http.listen " + listen + ": cannot listen (" + e.what() +
                                 "); is the port in use?");
    }
    impl_->server->addHandler("/metrics", impl_->metrics);
    impl_->server->addHandler("/healthz", impl_->health);
    impl_->server->addHandler("/readyz", impl_->ready);
}

MetricsServer::~MetricsServer() {
    if (impl_->server) impl_->server->close();
}

int MetricsServer::port() const {
    auto ports = impl_->server->getListeningPorts();
    return ports.empty() ? 0 : ports.front();
}

void MetricsServer::AddSource(SampleSource source) { impl_->metrics.Add(std::move(source)); }

prometheus::Registry& MetricsServer::registry() { return impl_->registry; }

void MetricsServer::SetHealth(ProbeHandler handler) { impl_->health.Set(std::move(handler)); }

void MetricsServer::SetReadiness(ProbeHandler handler) { impl_->ready.Set(std::move(handler)); }

void MetricsServer::Detach() {
    impl_->metrics.Clear();
    impl_->health.Set(nullptr);
    impl_->ready.Set(nullptr);
}

}  // namespace kyc_bridge::observe
