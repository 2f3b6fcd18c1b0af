// SPDX-License-Identifier: Apache-2.0
// Process orchestration and outside-in observation for the integration tests.
#include "pipeline_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <httplib.h>

namespace kyc_bridge::testing {

using namespace std::chrono_literals;

nlohmann::json KycEvent(const std::string& event_id, const std::string& customer_id,
                        const std::string& email, const std::string& given_name) {
    return {{"event_id", event_id},       {"event_type", "customer.kyc_verified"},
            {"occurred_at", "2026-11-22T10:00:00Z"}, {"customer_id", customer_id},
            {"kyc_status", "VERIFIED"},   {"email", email},
            {"given_name", given_name},   {"family_name", "Example"},
            {"locale", "en-GB"}};
}

nlohmann::json RevokeEvent(const std::string& event_id, const std::string& customer_id,
                           const std::string& occurred_at, const std::string& reason) {
    return {{"event_id", event_id},
            {"event_type", "customer.kyc_revoked"},
            {"occurred_at", occurred_at},
            {"customer_id", customer_id},
            {"reason", reason}};
}

std::vector<std::pair<std::string, std::string>> NewCustomers(const std::string& prefix, int count,
                                                              int first) {
    std::vector<std::pair<std::string, std::string>> events;
    for (int i = first; i < first + count; ++i) {
        auto customer = prefix + "_" + std::to_string(i);
        events.emplace_back(
            customer, KycEvent("evt-" + customer, customer, customer + "@example.com").dump());
    }
    return events;
}

void PipelineTest::SetUp() {
    dir_ = MakeTempDir("kyc-bridge-it");
    kafka_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{RequiredEnv("KAFKA_MOCK_CLUSTER"), "--brokers", "3", "--topic",
                                 std::string(kInputTopic) + ":4", "--topic",
                                 std::string(kOutputTopic) + ":4", "--topic",
                                 std::string(kDeadLetterTopic) + ":1", "--topic",
                                 std::string(kRevokedTopic) + ":4", "--topic",
                                 std::string(kBlockedTopic) + ":4", "--bootstrap-file",
                                 dir_ + "/bootstrap"},
        std::map<std::string, std::string>{}, dir_ + "/kafka.log");
    brokers_ = WaitForFile(dir_ + "/bootstrap", 20s);
}

void PipelineTest::TearDown() {
    if (daemon_ && daemon_->Running()) KillDaemon();
    daemon_.reset();
    emulator_.reset();
    kafka_.reset();
    if (!HasFailure()) {
        std::filesystem::remove_all(dir_);
    } else {
        std::cerr << "kept logs and store in " << dir_ << "\n";
    }
}

void PipelineTest::StartEmulator(const std::vector<std::string>& extra_flags) {
    std::vector<std::string> argv{RequiredEnv("AUTH0_EMULATOR"), "--listen", "127.0.0.1:0",
                                  "--port-file", dir_ + "/emulator.port", "--client-id",
                                  "it-client", "--client-secret", "it-secret", "--roles",
                                  "ROLE_CUSTOMER,ROLE_ADMIN"};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    emulator_ = std::make_unique<ChildProcess>(argv, std::map<std::string, std::string>{},
                                               dir_ + "/emulator.log");
    emulator_url_ = "http://127.0.0.1:" + WaitForFile(dir_ + "/emulator.port", 20s);
}

void PipelineTest::WriteConfig(const std::string& path, const std::string& store) {
    std::ofstream(path)
        << "[kafka]\nbrokers = \"" << brokers_ << "\"\n"
        << "[kafka.properties]\n"
        // The mock cluster's group coordinator waits out a killed member's session: keep it short.
        << "\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"500\"\n"
        << "[auth0]\nbase_url = \"" << emulator_url_ << "\"\nallow_insecure_http = true\n"
        << "client_id = \"it-client\"\nclient_secret = \"it-secret\"\n"
        << "roles = [\"ROLE_CUSTOMER\"]\n"
        << "[store]\npath = \"" << dir_ << "/" << store << "/kyc-bridge.db\"\n"
        << "[http]\nlisten = \"127.0.0.1:0\"\n"
        << "[log]\nlevel = \"info\"\n"
        << extra_toml_;
}

void PipelineTest::StartDaemon(const std::map<std::string, std::string>& env) {
    WriteConfig(dir_ + "/config.toml", "store");
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{RequiredEnv("KYC_BRIDGE"), "run", "--config", dir_ + "/config.toml"},
        env, dir_ + "/daemon.log");
    ++daemon_starts_;
}

std::unique_ptr<ChildProcess> PipelineTest::StartInstance(const std::string& name) {
    const auto config = dir_ + "/config-" + name + ".toml";
    WriteConfig(config, "store-" + name);
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{RequiredEnv("KYC_BRIDGE"), "run", "--config", config},
        std::map<std::string, std::string>{}, dir_ + "/daemon-" + name + ".log");
}

int PipelineTest::StopDaemon(std::chrono::seconds timeout) {
    daemon_->Signal(SIGTERM);
    auto code = daemon_->WaitExit(timeout);
    EXPECT_TRUE(code.has_value()) << "kyc-bridge did not exit within " << timeout.count() << " s";
    return code.value_or(-1);
}

void PipelineTest::KillDaemon() {
    daemon_->Signal(SIGKILL);
    daemon_->WaitExit(10s);
}

void PipelineTest::Publish(const std::vector<std::pair<std::string, std::string>>& key_values) {
    ProduceAll(brokers_, kInputTopic, key_values);
}

void PipelineTest::PublishTo(const std::string& topic,
                             const std::vector<std::pair<std::string, std::string>>& key_values) {
    ProduceAll(brokers_, topic, key_values);
}

std::vector<KafkaRecord> PipelineTest::ReadTopic(const std::string& topic) {
    return ReadAll(brokers_, topic, 1500ms);
}

nlohmann::json PipelineTest::EmulatorGet(const std::string& path) {
    httplib::Client client(emulator_url_);
    client.set_read_timeout(10, 0);
    auto r = client.Get(path.c_str());
    if (!r || r->status != 200) throw std::runtime_error("emulator GET " + path + " failed");
    return nlohmann::json::parse(r->body);
}

void PipelineTest::EmulatorPost(const std::string& path, const nlohmann::json& body) {
    httplib::Client client(emulator_url_);
    auto r = client.Post(path.c_str(), body.dump(), "application/json");
    if (!r || r->status >= 300) {
        throw std::runtime_error("emulator POST " + path + " failed: " +
                                 (r ? std::to_string(r->status) + " " + r->body : "no answer"));
    }
}

void PipelineTest::EmulatorDelete(const std::string& path) {
    httplib::Client client(emulator_url_);
    auto r = client.Delete(path.c_str());
    if (!r || r->status >= 300) {
        throw std::runtime_error("emulator DELETE " + path + " failed: " +
                                 (r ? std::to_string(r->status) + " " + r->body : "no answer"));
    }
}

std::map<std::string, std::vector<nlohmann::json>> PipelineTest::UsersByCustomer() {
    std::map<std::string, std::vector<nlohmann::json>> by_customer;
    for (const auto& user : EmulatorGet("/__emulator/users")) {
        auto metadata = user.value("app_metadata", nlohmann::json::object());
        if (metadata.contains("customer_id")) {
            by_customer[metadata["customer_id"].get<std::string>()].push_back(user);
        }
    }
    return by_customer;
}

void PipelineTest::WaitUntil(const std::function<bool()>& done, std::chrono::seconds timeout,
                             const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return;
        if (daemon_ && !daemon_->Running()) {
            FAIL() << "kyc-bridge exited while waiting for " << what << "; its log:\n"
                   << WaitForFile(dir_ + "/daemon.log", 1s);
        }
        std::this_thread::sleep_for(500ms);
    }
    FAIL() << "timed out after " << timeout.count() << " s waiting for " << what;
}

std::string PipelineTest::FailedJobsListing() {
    const auto listing = dir_ + "/failed.txt";
    ChildProcess cli({RequiredEnv("KYC_BRIDGE"), "jobs", "list", "--state", "failed", "--json",
                      "--config", dir_ + "/config.toml"},
                     {}, listing);
    EXPECT_EQ(cli.WaitExit(20s), 0);
    return WaitForFile(listing, 5s);
}

std::string PipelineTest::WaitForMetric(int port, const std::string& needle,
                                        std::chrono::seconds timeout) {
    std::string metrics;
    WaitUntil(
        [&] {
            metrics = ScrapeMetrics(port);
            return metrics.find(needle) != std::string::npos;
        },
        timeout, "\"" + needle + "\" in /metrics");
    return metrics;
}

int PipelineTest::FreeLoopbackPort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        close(fd);
        throw std::runtime_error("no free loopback port");
    }
    close(fd);
    return ntohs(address.sin_port);
}

std::string PipelineTest::ScrapeMetrics(int port) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(2, 0);
    auto r = client.Get("/metrics");
    return r && r->status == 200 ? r->body : "";
}

std::set<std::string> PipelineTest::PublishedCustomers() {
    std::set<std::string> customers;
    for (const auto& record : ReadTopic(kOutputTopic)) customers.insert(record.key);
    return customers;
}

std::map<std::string, int> PipelineTest::JobStates(const std::string& store) {
    std::map<std::string, int> states;
    // No store yet (the daemon is still starting): no jobs in any state. Any other failure is
    // the test's to see, not a wait that times out.
    if (!std::filesystem::exists(dir_ + "/" + store + "/kyc-bridge.db")) return states;
    for (const auto& row : QueryStore("SELECT state, count(*) FROM jobs GROUP BY state", store))
        states[row[0]] = std::stoi(row[1]);
    return states;
}

std::vector<std::vector<std::string>> PipelineTest::QueryStore(const std::string& sql,
                                                               const std::string& store) {
    std::vector<std::vector<std::string>> rows;
    sqlite3* db = nullptr;
    auto path = dir_ + "/" + store + "/kyc-bridge.db";
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        throw std::runtime_error("cannot open " + path);
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
        std::string problem = sqlite3_errmsg(db);
        sqlite3_close(db);
        throw std::runtime_error("store query failed: " + problem + ": " + sql);
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        std::vector<std::string> row;
        for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
            const auto* text = sqlite3_column_text(stmt, c);
            row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
        }
        rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rows;
}

}  // namespace kyc_bridge::testing
