// SPDX-License-Identifier: Apache-2.0
// One world per test: a mock Kafka cluster process, the Auth0 emulator process and the real
// kyc-bridge binary, judged from outside (emulator state, Kafka topics, the SQLite file).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "kafka_test_client.hpp"

namespace kyc_bridge::testing {

inline constexpr const char* kInputTopic = "customer.kyc_verified";
inline constexpr const char* kOutputTopic = "auth.user_created";
inline constexpr const char* kDeadLetterTopic = "customer.kyc_verified.dlq";
inline constexpr const char* kRevokedTopic = "customer.kyc_revoked";
inline constexpr const char* kBlockedTopic = "auth.user_blocked";

/// A customer.kyc_verified value.
nlohmann::json KycEvent(const std::string& event_id, const std::string& customer_id,
                        const std::string& email, const std::string& given_name = "Test");
/// A customer.kyc_revoked value.
nlohmann::json RevokeEvent(const std::string& event_id, const std::string& customer_id,
                           const std::string& occurred_at, const std::string& reason = "fraud");

/// `count` new customers <prefix>_<first>, <prefix>_<first+1>, …: (customer id, KycEvent with
/// event id evt-<customer> and email <customer>@example.com), ready for Publish.
std::vector<std::pair<std::string, std::string>> NewCustomers(const std::string& prefix, int count,
                                                              int first = 0);

class PipelineTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    /// Extra emulator flags (rate limits) must be set before StartEmulator.
    void StartEmulator(const std::vector<std::string>& extra_flags = {});
    /// Starts kyc-bridge with the test config plus `extra_toml` appended.
    void StartDaemon(const std::map<std::string, std::string>& env = {});
    /// Another kyc-bridge in the same consumer group with a store of its own (scale-out).
    std::unique_ptr<ChildProcess> StartInstance(const std::string& name);
    /// SIGTERM and wait; returns the exit code.
    int StopDaemon(std::chrono::seconds timeout = std::chrono::seconds{40});
    void KillDaemon();

    void Publish(const std::vector<std::pair<std::string, std::string>>& key_values);
    void PublishTo(const std::string& topic,
                   const std::vector<std::pair<std::string, std::string>>& key_values);
    std::vector<KafkaRecord> ReadTopic(const std::string& topic);

    /// Emulator HTTP helpers.
    nlohmann::json EmulatorGet(const std::string& path);
    void EmulatorPost(const std::string& path, const nlohmann::json& body);
    void EmulatorDelete(const std::string& path);
    /// Users whose app_metadata.customer_id is set, by customer id.
    std::map<std::string, std::vector<nlohmann::json>> UsersByCustomer();

    /// Waits until `done()` or the timeout; fails the test with `what` on timeout.
    void WaitUntil(const std::function<bool()>& done, std::chrono::seconds timeout,
                   const std::string& what);
    /// Distinct customer keys seen on auth.user_created.
    std::set<std::string> PublishedCustomers();
    /// `kyc-bridge jobs list --state failed --json` on the test config, as the ops CLI prints it.
    std::string FailedJobsListing();
    /// Scrapes /metrics on `port` until it contains `needle`; returns the last scrape.
    std::string WaitForMetric(int port, const std::string& needle, std::chrono::seconds timeout);
    /// A loopback port free right now, for KYC_BRIDGE_HTTP_LISTEN.
    static int FreeLoopbackPort();
    /// The daemon's /metrics text on that port ("" if it does not answer).
    static std::string ScrapeMetrics(int port);
    /// Rows of a query on the store file, for the state of jobs.
    std::map<std::string, int> JobStates(const std::string& store = "store");
    /// Every row of a read-only query on the store file, each column as text ("" for NULL).
    std::vector<std::vector<std::string>> QueryStore(const std::string& sql,
                                                     const std::string& store = "store");

    std::string dir_;
    std::string brokers_;
    std::string emulator_url_;
    std::string extra_toml_;
    std::unique_ptr<ChildProcess> kafka_;
    std::unique_ptr<ChildProcess> emulator_;
    std::unique_ptr<ChildProcess> daemon_;
    int daemon_starts_ = 0;

private:
    /// Writes the test config for an instance whose store lives in dir_/<store>/.
    void WriteConfig(const std::string& path, const std::string& store);
};

}  // namespace kyc_bridge::testing
