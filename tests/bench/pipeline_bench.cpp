// SPDX-License-Identifier: Apache-2.0
// End-to-end throughput of the real binary: N new customers published at once to the mock
// Kafka cluster, timed until N auth.user_created are on the output topic, with the Auth0
// emulator answering at once or after a fixed latency (closer to a real tenant).
// Prints figures; asserts nothing about time (this machine is shared).
//   meson test -C build --benchmark --verbose      or      ./dev.sh bench
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "child_process.hpp"
#include "kafka_test_client.hpp"

namespace {

using namespace std::chrono_literals;
using namespace kyc_bridge::testing;
using nlohmann::json;

struct Figures {
    double seconds = 0;
    int customers = 0;
    int management_calls = 0;
    int token_fetches = 0;
    int rate_limited = 0;
};

Figures Run(int customers, int latency_ms, int concurrency, const std::string& label) {
    const auto dir = MakeTempDir("kyc-bridge-bench");
    ChildProcess kafka({RequiredEnv("KAFKA_MOCK_CLUSTER"), "--brokers", "3", "--topic",
                        "customer.kyc_verified:8", "--topic", "auth.user_created:8", "--topic",
                        "customer.kyc_verified.dlq:1", "--bootstrap-file", dir + "/bootstrap"},
                       {}, dir + "/kafka.log");
    const auto brokers = WaitForFile(dir + "/bootstrap", 20s);
    ChildProcess emulator({RequiredEnv("AUTH0_EMULATOR"), "--listen", "127.0.0.1:0", "--port-file",
                           dir + "/emulator.port", "--client-id", "bench", "--client-secret",
                           "bench-secret", "--roles", "ROLE_CUSTOMER"},
                          {}, dir + "/emulator.log");
    const auto url = "http://127.0.0.1:" + WaitForFile(dir + "/emulator.port", 20s);
    httplib::Client api(url);
    if (latency_ms > 0) {
        api.Post("/__emulator/faults",
                 json{{"kind", "delay"},
                      {"delay_ms", latency_ms},
                      {"rate", 1.0},
                      {"duration_ms", 3600000},
                      {"path_prefix", "/"}}
                     .dump(),
                 "application/json");
    }
    std::ofstream(dir + "/config.toml")
        << "[kafka]\nbrokers = \"" << brokers << "\"\n"
        << "[auth0]\nbase_url = \"" << url << "\"\nallow_insecure_http = true\n"
        << "client_id = \"bench\"\nclient_secret = \"bench-secret\"\nroles = [\"ROLE_CUSTOMER\"]\n"
        << "[store]\npath = \"" << dir << "/store/kyc-bridge.db\"\n"
        << "[http]\nlisten = \"127.0.0.1:0\"\n[log]\nlevel = \"warn\"\n"
        << "[provision]\nconcurrency = " << concurrency << "\n";

    std::vector<std::pair<std::string, std::string>> events;
    for (int i = 0; i < customers; ++i) {
        const auto customer = "cus_bench_" + std::to_string(i);
        events.emplace_back(customer, json{{"event_id", "evt-" + customer},
                                           {"event_type", "customer.kyc_verified"},
                                           {"occurred_at", "2026-11-22T10:00:00Z"},
                                           {"customer_id", customer},
                                           {"kyc_status", "VERIFIED"},
                                           {"email", customer + "@example.com"},
                                           {"given_name", "Bench"}}
                                          .dump());
    }
    ProduceAll(brokers, "customer.kyc_verified", events);

    ChildProcess daemon({RequiredEnv("KYC_BRIDGE"), "run", "--config", dir + "/config.toml"}, {},
                        dir + "/daemon.log");
    const auto started = std::chrono::steady_clock::now();
    const auto deadline = started + 600s;
    std::size_t published = 0;
    while (published < static_cast<std::size_t>(customers) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(250ms);
        published = ReadAll(brokers, "auth.user_created", 1000ms).size();
    }
    Figures figures;
    figures.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    figures.customers = static_cast<int>(published);
    auto stats = json::parse(api.Get("/__emulator/stats")->body);
    figures.management_calls = stats["management_requests"];
    figures.token_fetches = stats["token_requests"];
    figures.rate_limited = stats["rate_limited"];
    daemon.Signal(SIGTERM);
    daemon.WaitExit(60s);
    std::filesystem::remove_all(dir);

    std::printf(
        "%-34s %5d customers in %6.1f s = %6.1f customers/s; %.2f Management API calls per "
        "customer; %d token fetch(es); %d x 429\n",
        label.c_str(), figures.customers, figures.seconds, figures.customers / figures.seconds,
        double(figures.management_calls) / std::max(1, figures.customers), figures.token_fetches,
        figures.rate_limited);
    std::fflush(stdout);
    return figures;
}

}  // namespace

int main(int argc, char** argv) {
    const int customers = argc > 1 ? std::atoi(argv[1]) : 1000;
    // Start-up (group join, role lookup) is inside the timing: it is part of what an operator sees.
    auto instant = Run(customers, 0, 8, "emulator instant, concurrency 8");
    auto slow8 = Run(customers / 2, 50, 8, "emulator +50 ms, concurrency 8");
    auto slow32 = Run(customers / 2, 50, 32, "emulator +50 ms, concurrency 32");
    const bool complete = instant.customers == customers && slow8.customers == customers / 2 &&
                          slow32.customers == customers / 2;
    if (!complete) std::printf("INCOMPLETE: not every customer was published within 600 s\n");
    return complete ? 0 : 1;
}
