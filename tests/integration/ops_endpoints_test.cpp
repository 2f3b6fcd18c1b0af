// SPDX-License-Identifier: Apache-2.0
// /healthz, /readyz and the /metrics catalogue of the real binary, through token refusals and a
// broker outage (issue #8).
#include <httplib.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Probe {
    int status = 0;  ///< 0: no answer
    json body;
};

Probe Get(int port, const std::string& path) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(5, 0);
    auto r = client.Get(path);
    if (!r) return {};
    return {r->status, json::parse(r->body, nullptr, false)};
}

bool HasReason(const Probe& p, const std::string& reason) {
    if (!p.body.is_object() || !p.body.contains("reasons")) return false;
    for (const auto& r : p.body["reasons"]) {
        if (r == reason) return true;
    }
    return false;
}

// Every name of the issue #8 catalogue, as it must appear in the exposition.
const char* const kCatalogue[] = {
    "kyc_bridge_events_consumed_total{result=\"accepted\",topic=\"customer.kyc_verified\"}",
    "kyc_bridge_events_consumed_total{result=\"duplicate\",topic=\"customer.kyc_verified\"}",
    "kyc_bridge_events_consumed_total{result=\"rejected\",topic=\"customer.kyc_verified\"}",
    "kyc_bridge_jobs_total{outcome=\"created\"}",
    "kyc_bridge_jobs_total{outcome=\"existing\"}",
    "kyc_bridge_jobs_total{outcome=\"updated\"}",
    "kyc_bridge_jobs_total{outcome=\"failed\"}",
    "kyc_bridge_jobs{state=\"pending\"}",
    "kyc_bridge_jobs{state=\"done\"}",
    "kyc_bridge_jobs{state=\"failed\"}",
    "kyc_bridge_oldest_pending_job_age_seconds",
    "kyc_bridge_auth0_requests_total{code=\"201\",endpoint=\"create_user\"}",
    "kyc_bridge_auth0_requests_total{code=\"200\",endpoint=\"token\"}",
    "kyc_bridge_auth0_request_duration_seconds_bucket{endpoint=\"create_user\"",
    "kyc_bridge_auth0_rate_limit_remaining",
    "kyc_bridge_auth0_throttled_seconds_total",
    "kyc_bridge_token_fetches_total{result=\"ok\"}",
    "kyc_bridge_token_expiry_timestamp_seconds",
    "kyc_bridge_retries_total{kind=\"transient\"}",
    "kyc_bridge_quarantined",
    "kyc_bridge_quarantine_seconds_total",
    "kyc_bridge_outbox_pending",
    "kyc_bridge_outbox_published_total{topic=\"auth.user_created\"}",
    "kyc_bridge_outbox_oldest_age_seconds",
    "kyc_bridge_dead_letters_total{reason=\"not_json\"}",
    "kyc_bridge_provisioning_latency_seconds_bucket",
    "kyc_bridge_consumer_lag{partition=",
    "kyc_bridge_store_commit_duration_seconds_bucket",
    "kyc_bridge_build_info{version=",
    // kept from before issue #8
    "kyc_bridge_events_total{result=\"accepted\"}",
    "kyc_bridge_jobs_total{outcome=\"done\"}",
    "kyc_bridge_ready",
};

class OpsEndpoints : public PipelineTest {};

TEST_F(OpsEndpoints, MetricsCatalogueIsCompleteAndPassesPromtool) {
    StartEmulator();
    const int port = FreeLoopbackPort();
    StartDaemon({{"KYC_BRIDGE_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}});
    Publish({{"cus_o_1", KycEvent("evt-o-1", "cus_o_1", "ops.one@example.com").dump()},
             {"cus_o_1", KycEvent("evt-o-1", "cus_o_1", "ops.one@example.com").dump()},
             {"cus_o_1", KycEvent("evt-o-2", "cus_o_1", "ops.one@example.com", "Later").dump()},
             {"cus_o_2", "{not json"}});
    // The later event updates the user; auth.user_created is published once per customer.
    WaitUntil([&] { return PublishedCustomers().count("cus_o_1") == 1; }, 60s, "cus_o_1 published");
    const auto metrics = WaitForMetric(port, "kyc_bridge_jobs_total{outcome=\"updated\"} 1", 60s);
    for (const char* name : kCatalogue) {
        EXPECT_NE(metrics.find(name), std::string::npos) << name << "\n" << metrics;
    }
    EXPECT_NE(metrics.find("kyc_bridge_jobs_total{outcome=\"created\"} 1"), std::string::npos);
    EXPECT_EQ(metrics.find("@"), std::string::npos) << "no email in any metric";
    EXPECT_EQ(metrics.find("cus_o_"), std::string::npos) << "no customer id in any metric";
    std::ofstream(dir_ + "/metrics.txt") << metrics;
    const auto promtool =
        "promtool check metrics < " + dir_ + "/metrics.txt > " + dir_ + "/promtool.out 2>&1";
    EXPECT_EQ(std::system(promtool.c_str()), 0) << std::ifstream(dir_ + "/promtool.out").rdbuf();
    EXPECT_EQ(StopDaemon(), 0);
}

TEST_F(OpsEndpoints, ReadinessFollowsTokenRefusalAndBrokerOutageWhileHealthStays200) {
    StartEmulator();
    const int port = FreeLoopbackPort();
    StartDaemon({{"KYC_BRIDGE_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}});
    auto healthy = [&] { EXPECT_EQ(Get(port, "/healthz").status, 200); };
    WaitUntil([&] { return Get(port, "/readyz").status == 200; }, 60s, "ready after start-up");
    healthy();

    // Auth0 refuses the client's credentials, and the cached token is no longer accepted.
    EmulatorPost("/__emulator/credentials", {{"reject_for_ms", 4000}});
    EmulatorPost("/__emulator/tokens/invalidate", json::object());
    Publish({{"cus_r_1", KycEvent("evt-r-1", "cus_r_1", "ready.one@example.com").dump()}});
    Probe refused;
    WaitUntil([&] { return (refused = Get(port, "/readyz")).status == 503; }, 30s,
              "not ready while tokens are refused");
    EXPECT_FALSE(refused.body["ready"].get<bool>());
    EXPECT_TRUE(HasReason(refused, "auth0_token_unavailable") ||
                HasReason(refused, "provisioning_quarantined"))
        << refused.body.dump();
    healthy();
    WaitUntil([&] { return Get(port, "/readyz").status == 200; }, 60s,
              "ready again once tokens are granted");
    WaitUntil([&] { return PublishedCustomers().count("cus_r_1") == 1; }, 60s,
              "the event provisioned after the refusal");
    healthy();

    kafka_->Signal(SIGUSR1);  // all brokers down
    Probe down;
    WaitUntil([&] { return (down = Get(port, "/readyz")).status == 503; }, 30s,
              "not ready while the brokers are down");
    EXPECT_TRUE(HasReason(down, "kafka_brokers_unreachable") ||
                HasReason(down, "consumer_unassigned"))
        << down.body.dump();
    healthy();
    kafka_->Signal(SIGUSR2);  // and up again
    WaitUntil([&] { return Get(port, "/readyz").status == 200; }, 60s,
              "ready again once the brokers are back");
    healthy();
    EXPECT_EQ(StopDaemon(), 0);
}

}  // namespace
}  // namespace kyc_bridge::testing
