// SPDX-License-Identifier: Apache-2.0
// Issue #8: a real Prometheus server scrapes the daemon with the shipped scrape config and rules
// (deploy/prometheus/); PromQL sees the jobs, and the failed-jobs and target-down alerts fire.
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string ReadText(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Replaces `from` (which must occur: the test depends on the shipped file's shape) with `to`.
std::string ReplaceAll(std::string text, const std::string& from, const std::string& to,
                       const std::string& file) {
    std::size_t at = text.find(from);
    if (at == std::string::npos) throw std::runtime_error("\"" + from + "\" not found in " + file);
    for (; at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
    return text;
}

class PrometheusTest : public PipelineTest {
protected:
    void TearDown() override {
        prometheus_.reset();
        PipelineTest::TearDown();
    }

    // Copies deploy/prometheus/ into dir_/prometheus/, changed only where a test must differ from
    // production: the target is the daemon's port, Prometheus scrapes and evaluates every second,
    // and every `for:` is 0s so that an alert fires on its first true evaluation. The
    // expressions, labels and annotations are the shipped ones.
    void StartPrometheus(int daemon_port) {
        const auto shipped = RequiredEnv("KYC_BRIDGE_PROMETHEUS_DIR");
        const auto dir = dir_ + "/prometheus";
        std::filesystem::create_directories(dir);
        auto config = ReadText(shipped + "/prometheus.yml");
        config = ReplaceAll(config, "\"127.0.0.1:9464\"",
                            "\"127.0.0.1:" + std::to_string(daemon_port) + "\"", "prometheus.yml");
        config =
            ReplaceAll(config, "scrape_interval: 15s", "scrape_interval: 1s", "prometheus.yml");
        config = ReplaceAll(config, "evaluation_interval: 15s", "evaluation_interval: 1s",
                            "prometheus.yml");
        std::ofstream(dir + "/prometheus.yml") << config;
        const auto rules = ReadText(shipped + "/kyc-bridge.rules.yml");
        const std::regex for_duration(R"((\n +for: *)[0-9a-z]+)");
        ASSERT_TRUE(std::regex_search(rules, for_duration)) << "no `for:` in the shipped rules";
        // "$01": group 1 (the indentation and `for:`), then the new duration.
        std::ofstream(dir + "/kyc-bridge.rules.yml") << std::regex_replace(rules, for_duration,
                                                                           "$01"
                                                                           "0s");

        prometheus_port_ = FreeLoopbackPort();
        prometheus_ = std::make_unique<ChildProcess>(
            std::vector<std::string>{
                RequiredEnv("PROMETHEUS"), "--config.file=" + dir + "/prometheus.yml",
                "--storage.tsdb.path=" + dir + "/data",
                "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port_),
                "--web.enable-lifecycle"},
            std::map<std::string, std::string>{}, dir_ + "/prometheus.log");
        WaitUntil([&] { return PrometheusGet("/-/ready", {}).has_value(); }, 30s,
                  "Prometheus ready (its log: " + dir_ + "/prometheus.log)");
    }

    // The body of a 200 answer from Prometheus, or nullopt.
    std::optional<std::string> PrometheusGet(const std::string& path,
                                             const httplib::Params& params) {
        httplib::Client client("127.0.0.1", prometheus_port_);
        client.set_connection_timeout(2, 0);
        auto r = client.Get(path, params, httplib::Headers{});
        if (!r || r->status != 200) return std::nullopt;
        return r->body;
    }

    // The value of an instant query whose result is one sample; nullopt when it has none.
    std::optional<double> Query(const std::string& promql) {
        auto body = PrometheusGet("/api/v1/query", {{"query", promql}});
        if (!body) throw std::runtime_error("Prometheus did not answer the query " + promql);
        auto result = json::parse(*body)["data"]["result"];
        if (result.empty()) return std::nullopt;
        if (result.size() != 1) throw std::runtime_error(promql + " returned " + result.dump());
        return std::stod(result[0]["value"][1].get<std::string>());
    }

    // The alert `name` in state firing, from /api/v1/alerts.
    std::optional<json> FiringAlert(const std::string& name) {
        auto body = PrometheusGet("/api/v1/alerts", {});
        if (!body) throw std::runtime_error("Prometheus did not answer /api/v1/alerts");
        const auto answer = json::parse(*body);
        for (const auto& alert : answer["data"]["alerts"]) {
            if (alert["labels"].value("alertname", "") == name &&
                alert.value("state", "") == "firing") {
                return alert;
            }
        }
        return std::nullopt;
    }

    // Waits until `promql` has the value `expected`; fails with the last value otherwise.
    void ExpectQuery(const std::string& promql, double expected, std::chrono::seconds timeout) {
        std::optional<double> last;
        WaitUntil(
            [&] {
                last = Query(promql);
                return last == expected;
            },
            timeout, promql + " == " + std::to_string(expected));
        EXPECT_EQ(last, expected) << promql;
    }

    std::unique_ptr<ChildProcess> prometheus_;
    int prometheus_port_ = 0;
};

TEST_F(PrometheusTest, ShippedConfigScrapesTheDaemonAndTheAlertsFire) {
    StartEmulator();
    EmulatorPost("/__emulator/reject-email",
                 {{"email", "cus_prom_2@example.com"}, {"status", 400}});
    const int port = FreeLoopbackPort();
    StartDaemon({{"KYC_BRIDGE_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}});
    StartPrometheus(port);
    const auto instance = "127.0.0.1:" + std::to_string(port);
    ExpectQuery("up{job=\"kyc-bridge\",instance=\"" + instance + "\"}", 1, 30s);
    EXPECT_FALSE(FiringAlert("KycBridgeFailedJobs")) << "no job has failed yet";
    EXPECT_FALSE(FiringAlert("KycBridgeDown"));

    Publish(NewCustomers("cus_prom", 6));
    WaitUntil([&] { return PublishedCustomers().size() >= 5 && JobStates()["failed"] == 1; }, 60s,
              "5 customers published and one job failed");
    // The daemon's counters as Prometheus scraped them: five users created, one job failed, and
    // nothing counted twice.
    ExpectQuery(R"(sum(kyc_bridge_jobs_total{job="kyc-bridge",outcome="created"}))", 5, 30s);
    ExpectQuery(R"(sum(kyc_bridge_jobs_total{job="kyc-bridge",outcome="failed"}))", 1, 30s);
    ExpectQuery(
        R"(sum(kyc_bridge_jobs_total{job="kyc-bridge",outcome=~"created|existing|updated|failed"}))",
        6, 30s);
    ExpectQuery(R"(kyc_bridge_jobs{job="kyc-bridge",state="failed"})", 1, 30s);

    // The shipped KycBridgeFailedJobs expression, evaluated by Prometheus on the scraped gauge.
    std::optional<json> failed;
    WaitUntil([&] { return (failed = FiringAlert("KycBridgeFailedJobs")).has_value(); }, 30s,
              "KycBridgeFailedJobs firing");
    if (failed) {
        EXPECT_EQ((*failed)["labels"].value("instance", ""), instance) << failed->dump();
        EXPECT_EQ((*failed)["labels"].value("severity", ""), "ticket") << failed->dump();
        EXPECT_NE((*failed)["annotations"].value("runbook", "").find("kyc-bridge failed list"),
                  std::string::npos)
            << failed->dump();
    }
    EXPECT_FALSE(FiringAlert("KycBridgeDown"));

    // And the target-down alert once the daemon is gone.
    KillDaemon();
    daemon_.reset();
    std::optional<json> down;
    WaitUntil([&] { return (down = FiringAlert("KycBridgeDown")).has_value(); }, 30s,
              "KycBridgeDown firing");
    if (down) {
        EXPECT_EQ((*down)["labels"].value("instance", ""), instance) << down->dump();
    }
}

}  // namespace
}  // namespace kyc_bridge::testing
