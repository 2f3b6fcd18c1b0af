// SPDX-License-Identifier: Apache-2.0
// Issue #7: role assignment in batches (POST /api/v2/roles/{id}/users), with users deleted
// between their creation and their role: the batch splits into per-user calls, everyone else
// gets the role, and the deleted ones end failed with a reason — never published.
#include <sqlite3.h>

#include <iostream>
#include <sstream>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct FailedJob {
    int attempts = 0;
    std::string last_error;
    std::string last_error_kind;
};

class RoleBatchTest : public PipelineTest {
protected:
    /// Failed jobs in the store, by customer id.
    std::map<std::string, FailedJob> FailedJobs() {
        std::map<std::string, FailedJob> failed;
        sqlite3* db = nullptr;
        const auto path = dir_ + "/store/kyc-bridge.db";
        if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
            sqlite3_busy_timeout(db, 5000);
            sqlite3_stmt* stmt = nullptr;
            if (sqlite3_prepare_v2(db,
                                   "SELECT customer_id, attempts, last_error, last_error_kind "
                                   "FROM jobs WHERE state = 'failed'",
                                   -1, &stmt, nullptr) == SQLITE_OK) {
                while (sqlite3_step(stmt) == SQLITE_ROW) {
                    auto text = [&](int column) {
                        auto* value = sqlite3_column_text(stmt, column);
                        return value ? std::string(reinterpret_cast<const char*>(value)) : "";
                    };
                    failed[text(0)] = {sqlite3_column_int(stmt, 1), text(2), text(3)};
                }
            }
            sqlite3_finalize(stmt);
        }
        sqlite3_close(db);
        return failed;
    }
};

TEST_F(RoleBatchTest, UsersDeletedBeforeTheirRoleFailWithAReasonAndEveryoneElseHasIt) {
    constexpr int kCustomers = 200;
    const std::set<std::string> deleted = {"cus_rb_17", "cus_rb_101", "cus_rb_188"};
    // A tenant budget and a slow Auth0 make users queue for the pacer's grant, so that batches
    // hold several users.
    StartEmulator({"--rate-limit-per-second", "30", "--rate-limit-burst", "30"});
    json vanishing = json::array();
    for (const auto& customer : deleted) vanishing.push_back("auth0|" + customer);
    EmulatorPost(
        "/__emulator/faults",
        {{"kind", "vanish_after_create"}, {"user_ids", vanishing}, {"duration_ms", 600000}});
    EmulatorPost("/__emulator/faults", {{"kind", "delay"},
                                        {"delay_ms", 20},
                                        {"path_prefix", "/api/v2/"},
                                        {"duration_ms", 600000}});
    extra_toml_ =
        "[retry]\nmax_attempts = 3\ninitial_backoff_ms = 100\nmax_backoff_ms = 500\n"
        "[provision]\nrole_batch_size = 100\n";
    const int port = FreeLoopbackPort();
    StartDaemon({{"KYC_BRIDGE_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}});

    std::vector<std::pair<std::string, std::string>> events;
    for (int i = 0; i < kCustomers; ++i) {
        const auto customer = "cus_rb_" + std::to_string(i);
        events.emplace_back(
            customer, KycEvent("evt-" + customer, customer, customer + "@example.com").dump());
    }
    Publish(events);

    const std::size_t remaining = kCustomers - deleted.size();
    WaitUntil(
        [&] {
            auto states = JobStates();
            return states["done"] == static_cast<int>(remaining) &&
                   states["failed"] == static_cast<int>(deleted.size());
        },
        240s, "197 jobs done and 3 failed");
    WaitUntil([&] { return PublishedCustomers().size() >= remaining; }, 60s,
              "197 customers published");
    const auto metrics = ScrapeMetrics(port);
    EXPECT_EQ(StopDaemon(), 0);

    // Every remaining customer: exactly one user, with the role, and one auth.user_created.
    auto users = UsersByCustomer();
    std::map<std::string, int> published;
    for (const auto& record : ReadTopic(kOutputTopic)) ++published[record.key];
    int with_role = 0;
    for (int i = 0; i < kCustomers; ++i) {
        const auto customer = "cus_rb_" + std::to_string(i);
        if (deleted.count(customer)) continue;
        ASSERT_EQ(users[customer].size(), 1u) << customer;
        EXPECT_EQ(users[customer][0]["roles"], json::array({"ROLE_CUSTOMER"})) << customer;
        with_role += users[customer][0]["roles"] == json::array({"ROLE_CUSTOMER"});
        EXPECT_EQ(published[customer], 1) << customer << ": auth.user_created events";
    }
    EXPECT_EQ(with_role, static_cast<int>(remaining));
    EXPECT_EQ(published.size(), remaining) << "no other key on auth.user_created";

    // The deleted ones: gone from the tenant, never published, failed with the reason.
    const auto failed = FailedJobs();
    EXPECT_EQ(failed.size(), deleted.size());
    for (const auto& customer : deleted) {
        EXPECT_EQ(users.count(customer), 0u) << customer;
        EXPECT_EQ(published.count(customer), 0u) << customer << " was published";
        auto it = failed.find(customer);
        ASSERT_NE(it, failed.end()) << customer << " is not failed";
        EXPECT_FALSE(it->second.last_error.empty()) << customer;
        EXPECT_NE(it->second.last_error.find("404"), std::string::npos) << it->second.last_error;
        EXPECT_EQ(it->second.attempts, 3) << customer << ": retry.max_attempts";
        std::cout << customer << ": failed after " << it->second.attempts << " attempts ("
                  << it->second.last_error_kind << "): " << it->second.last_error << "\n";
    }
    // The ops CLI lists the same three, with their reason.
    std::istringstream listing(FailedJobsListing());
    std::set<std::string> listed;
    for (std::string line; std::getline(listing, line);) {
        if (line.empty()) continue;
        auto row = json::parse(line);
        listed.insert(row["customer_id"].get<std::string>());
        EXPECT_FALSE(row["last_error"].get<std::string>().empty()) << line;
    }
    EXPECT_EQ(listed, deleted);

    // Batches actually held several users.
    const auto stats = EmulatorGet("/__emulator/stats");
    const int batch_calls = stats["by_route"].value("POST /api/v2/roles/{id}/users", 0);
    const int per_user_calls = stats["by_route"].value("POST /api/v2/users/{id}/roles", 0);
    int largest = 0;
    int batched_users = 0;
    for (const auto& [size, calls] : stats["role_batch_sizes"].items()) {
        largest = std::max(largest, std::stoi(size));
        batched_users += std::stoi(size) * calls.get<int>();
    }
    std::cout << "role batches: " << batch_calls << " calls for " << kCustomers
              << " customers, users per batch " << stats["role_batch_sizes"].dump() << " (largest "
              << largest << ", mean " << (batch_calls ? double(batched_users) / batch_calls : 0.0)
              << "), " << per_user_calls << " per-user fallback calls, " << stats["rate_limited"]
              << " x 429, faults injected " << stats["faults_injected"] << "\n";
    for (const char* name : {"kyc_bridge_role_batches_total", "kyc_bridge_role_batch_users_total",
                             "kyc_bridge_role_batch_fallbacks_total"}) {
        std::istringstream lines(metrics);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind(name, 0) == 0) std::cout << "  " << line << "\n";
        }
    }
    EXPECT_GT(largest, 1) << "no role batch held more than one user";
    EXPECT_LT(batch_calls, kCustomers);
    EXPECT_GE(per_user_calls, static_cast<int>(deleted.size())) << "split batches fall back";
    EXPECT_GE(stats["faults_injected"].get<int>(), static_cast<int>(deleted.size()));
}

}  // namespace
}  // namespace kyc_bridge::testing
