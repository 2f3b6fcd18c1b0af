// SPDX-License-Identifier: Apache-2.0
// Process orchestration for the benchmark.
#include "bench_world.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/events/user_created.hpp"

namespace kyc_bridge::bench {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::RequiredEnv;
using testing::WaitForFile;

int FreeLoopbackPort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                       getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    close(fd);
    if (!bound) throw std::runtime_error("no free loopback port");
    return ntohs(address.sin_port);
}

std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

ProcessSample SampleProcess(pid_t pid) {
    const auto proc = "/proc/" + std::to_string(pid);
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const auto stat = ReadFile(proc + "/stat");
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::vector<std::string> after_name;
    for (std::string field; fields >> field;) after_name.push_back(field);
    if (after_name.size() < 13) throw std::runtime_error("short " + proc + "/stat");
    const double ticks = std::stod(after_name[11]) + std::stod(after_name[12]);
    ProcessSample sample;
    sample.cpu_ms = ticks * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
    std::istringstream status(ReadFile(proc + "/status"));
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmHWM:", 0) == 0) sample.peak_rss_mb = std::stod(line.substr(6)) / 1024.0;
    }
    return sample;
}

World::World(const std::string& name, const TenantOptions& tenant)
    : dir_(testing::MakeTempDir("kyc-bridge-bench-" + name)) {
    kafka_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            RequiredEnv("KAFKA_MOCK_CLUSTER"), "--brokers", "3", "--topic",
            std::string(kInputTopic) + ":8", "--topic", std::string(kOutputTopic) + ":8", "--topic",
            "customer.kyc_verified.dlq:1", "--bootstrap-file", dir_ + "/bootstrap"},
        std::map<std::string, std::string>{}, dir_ + "/kafka.log");
    brokers_ = WaitForFile(dir_ + "/bootstrap", 20s);
    std::vector<std::string> argv{RequiredEnv("AUTH0_EMULATOR"),
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--port-file",
                                  dir_ + "/emulator.port",
                                  "--client-id",
                                  "bench",
                                  "--client-secret",
                                  "bench-secret",
                                  "--roles",
                                  "ROLE_CUSTOMER"};
    if (tenant.rate_per_second > 0) {
        argv.insert(argv.end(), {"--rate-limit-per-second", std::to_string(tenant.rate_per_second),
                                 "--rate-limit-burst", std::to_string(tenant.burst)});
    }
    emulator_ = std::make_unique<ChildProcess>(argv, std::map<std::string, std::string>{},
                                               dir_ + "/emulator.log");
    emulator_url_ = "http://127.0.0.1:" + WaitForFile(dir_ + "/emulator.port", 20s);
    if (tenant.latency_ms > 0) {
        // Every call, the token and password-email endpoints included, answers after the delay;
        // the emulator sleeps outside its lock, so delayed calls overlap as at Auth0.
        httplib::Client api(emulator_url_);
        auto r = api.Post("/__emulator/faults",
                          json{{"kind", "delay"},
                               {"delay_ms", tenant.latency_ms},
                               {"rate", 1.0},
                               {"duration_ms", 3600000},
                               {"path_prefix", "/"}}
                              .dump(),
                          "application/json");
        if (!r || r->status != 201) throw std::runtime_error("emulator refused the delay fault");
    }
}

World::~World() {
    if (daemon_ && daemon_->Running()) StopDaemon();
    daemon_.reset();
    emulator_.reset();
    kafka_.reset();
    if (!std::getenv("KYC_BRIDGE_BENCH_KEEP")) std::filesystem::remove_all(dir_);
}

ChildProcess& World::StartDaemon(const ProvisionOptions& provision) {
    metrics_port_ = FreeLoopbackPort();
    const auto config = dir_ + "/config.toml";
    {
        std::ofstream out(config);
        out << "[kafka]\nbrokers = \"" << brokers_ << "\"\n"
            << "[auth0]\nbase_url = \"" << emulator_url_ << "\"\nallow_insecure_http = true\n"
            << "client_id = \"bench\"\nclient_secret = \"bench-secret\"\n"
            << "roles = [\"ROLE_CUSTOMER\"]\n"
            << "[store]\npath = \"" << dir_ << "/store/kyc-bridge.db\"\n"
            << "[http]\nlisten = \"127.0.0.1:" << metrics_port_ << "\"\n"
            << "[log]\nlevel = \"warn\"\n[provision]\n";
        if (provision.concurrency > 0) out << "concurrency = " << provision.concurrency << "\n";
        // KYC_BRIDGE_BENCH_LEGACY=1 leaves out keys a binary from before issue #7 refuses, to
        // compare against it.
        if (provision.max_emails_in_flight > 0 && !std::getenv("KYC_BRIDGE_BENCH_LEGACY")) {
            out << "max_emails_in_flight = " << provision.max_emails_in_flight << "\n";
        }
    }
    const auto log = dir_ + "/daemon-" + std::to_string(++daemon_starts_) + ".log";
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{RequiredEnv("KYC_BRIDGE"), "run", "--config", config},
        std::map<std::string, std::string>{}, log);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (Metric("kyc_bridge_ready") != 1) {
        if (!daemon_->Running() || std::chrono::steady_clock::now() > deadline) {
            const auto text = ReadFile(log);
            throw std::runtime_error("kyc-bridge did not become ready; its log ends:\n" +
                                     text.substr(text.size() > 2000 ? text.size() - 2000 : 0));
        }
        std::this_thread::sleep_for(20ms);  // polling another process: it sends no signal
    }
    return *daemon_;
}

bool World::StopDaemon() {
    daemon_->Signal(SIGTERM);
    return daemon_->WaitExit(60s).has_value();
}

TenantStats World::Stats() {
    httplib::Client api(emulator_url_);
    api.set_read_timeout(30, 0);
    auto r = api.Get("/__emulator/stats");
    if (!r || r->status != 200) throw std::runtime_error("emulator stats unavailable");
    const auto stats = json::parse(r->body);
    return {stats.at("management_requests").get<int>(), stats.at("rate_limited").get<int>(),
            stats.at("token_requests").get<int>()};
}

double World::Metric(const std::string& series) {
    httplib::Client client("127.0.0.1", metrics_port_);
    client.set_connection_timeout(1, 0);
    auto r = client.Get("/metrics");
    if (!r || r->status != 200) return -1;
    std::istringstream lines(r->body);
    for (std::string line; std::getline(lines, line);) {
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
            line[series.size()] == ' ') {
            return std::stod(line.substr(series.size() + 1));
        }
    }
    return -1;
}

json KycEvent(const std::string& customer_id, const std::string& occurred_at) {
    return {{"event_id", "evt-" + customer_id},
            {"event_type", "customer.kyc_verified"},
            {"occurred_at", occurred_at},
            {"customer_id", customer_id},
            {"kyc_status", "VERIFIED"},
            {"email", customer_id + "@example.com"},
            {"given_name", "Bench"},
            {"family_name", "Example"},
            {"locale", "en-GB"}};
}

std::string Rfc3339Now() {
    return kyc_bridge::events::FormatRfc3339(
        kyc_bridge::core::ToUnixMillis(std::chrono::system_clock::now()));
}

}  // namespace kyc_bridge::bench
