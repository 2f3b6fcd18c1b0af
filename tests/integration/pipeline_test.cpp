// SPDX-License-Identifier: Apache-2.0
// Issue #2 end to end: 200 events with duplicates, repeat customers, existing Auth0 users,
// poison events and a SIGTERM + restart in the middle — judged from Auth0's and Kafka's side.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <httplib.h>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string Id(const char* format, int i) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, i);
    return buffer;
}

int Route(const json& stats, const std::string& route) {
    return stats["by_route"].value(route, 0);
}

std::string Header(const KafkaRecord& record, const std::string& name) {
    for (const auto& [n, v] : record.headers) {
        if (n == name) return v;
    }
    return "";
}

TEST_F(PipelineTest, TwoHundredEventsEndWithExactlyOneProvisionedUserPerCustomer) {
    StartEmulator();
    // One role call per user, so that the call budget below counts POST /users/{id}/roles;
    // role batches are pinned by RoleBatchTest.
    extra_toml_ = "[provision]\nrole_batch_size = 1\n";
    // Five customers already in Auth0: three created by hand under other ids (adopted by
    // email), two under the id kyc-bridge derives (found by id).
    for (int i = 0; i < 5; ++i) {
        auto user_id = i < 3 ? Id("auth0|legacy-%d", i) : Id("auth0|cus_old_%d", i);
        EmulatorPost("/__emulator/users",
                     {{"user_id", user_id}, {"email", Id("old%d@example.com", i)}, {"given_name", "Old"}});
    }

    std::vector<std::pair<std::string, std::string>> events;
    std::vector<std::pair<std::string, std::string>> first_new;
    for (int i = 0; i < 150; ++i) {
        auto customer = Id("cus_new_%03d", i);
        events.emplace_back(customer, KycEvent(Id("evt-new-%d", i), customer,
                                               Id("New.Customer%03d@Example.com", i)).dump());
        if (i < 20) first_new.push_back(events.back());
    }
    for (int i = 0; i < 10; ++i) {
        auto customer = Id("cus_two_%d", i);
        auto email = Id("two%d@example.com", i);
        events.emplace_back(customer, KycEvent(Id("evt-two-%d-a", i), customer, email, "First").dump());
        events.emplace_back(customer, KycEvent(Id("evt-two-%d-b", i), customer, email, "Second").dump());
    }
    for (int i = 0; i < 5; ++i) {
        auto customer = Id("cus_old_%d", i);
        events.emplace_back(customer, KycEvent(Id("evt-old-%d", i), customer, Id("old%d@example.com", i)).dump());
    }
    auto bad_status = KycEvent("evt-bad-2", "cus_bad_2", "bad2@example.com");
    bad_status["kyc_status"] = "PENDING";
    auto bad_email = KycEvent("evt-bad-3", "cus_bad_3", "not-an-email");
    auto bad_id = KycEvent("evt-bad-4", "cus bad|4", "bad4@example.com");
    auto missing = KycEvent("evt-bad-1", "cus_bad_1", "bad1@example.com");
    missing.erase("email");
    events.insert(events.begin() + 40, {"cus_bad_0", "{this is not json"});
    events.insert(events.begin() + 80, {"cus_bad_1", missing.dump()});
    events.insert(events.begin() + 120, {"cus_bad_2", bad_status.dump()});
    events.insert(events.begin() + 150, {"cus_bad_3", bad_email.dump()});
    events.insert(events.begin() + 170, {"cus_bad_4", bad_id.dump()});
    events.insert(events.end(), first_new.begin(), first_new.end());  // 20 exact duplicates
    ASSERT_EQ(events.size(), 200u);

    StartDaemon();
    Publish({events.begin(), events.begin() + 100});
    WaitUntil([&] { return UsersByCustomer().size() >= 30; }, 90s, "30 customers provisioned");
    EXPECT_EQ(StopDaemon(), 0);

    StartDaemon();
    Publish({events.begin() + 100, events.end()});
    WaitUntil([&] { return PublishedCustomers().size() >= 165 && ReadTopic(kDeadLetterTopic).size() >= 5; },
              120s, "165 auth.user_created and 5 dead letters");
    std::this_thread::sleep_for(2s);  // anything extra would show up now
    auto states = JobStates();
    EXPECT_EQ(states["pending"], 0);
    EXPECT_EQ(states["failed"], 0);
    EXPECT_EQ(StopDaemon(), 0);

    // Auth0's side: one user per valid customer, with the role and the app_metadata.
    auto users = UsersByCustomer();
    EXPECT_EQ(users.size(), 165u);
    for (const auto& [customer, list] : users) {
        ASSERT_EQ(list.size(), 1u) << customer;
        const auto& user = list[0];
        EXPECT_EQ(user["roles"], json::array({"ROLE_CUSTOMER"})) << customer;
        EXPECT_EQ(user["app_metadata"]["kyc_status"], "VERIFIED") << customer;
        EXPECT_EQ(user["app_metadata"]["kyc_verified_at"], "2026-11-22T10:00:00Z") << customer;
        if (customer.rfind("cus_two_", 0) == 0) {
            EXPECT_EQ(user["given_name"], "Second") << customer;
        }
    }
    EXPECT_EQ(users["cus_new_007"][0]["email"], "new.customer007@example.com");
    EXPECT_EQ(users["cus_new_007"][0]["user_id"], "auth0|cus_new_007");
    EXPECT_EQ(users["cus_old_1"][0]["user_id"], "auth0|legacy-1");
    EXPECT_EQ(EmulatorGet("/__emulator/users").size(), 165u);

    // Exactly one password email per created user, none for existing ones.
    std::map<std::string, int> emails_per_address;
    for (const auto& email : EmulatorGet("/__emulator/emails")) {
        EXPECT_EQ(email["type"], "change_password");
        ++emails_per_address[email["email"].get<std::string>()];
    }
    EXPECT_EQ(emails_per_address.size(), 160u);
    for (const auto& [address, count] : emails_per_address) {
        EXPECT_EQ(count, 1) << address;
        EXPECT_EQ(address.rfind("old", 0), std::string::npos) << address;
    }

    // One auth.user_created per customer, unique deterministic ids, the right outcome.
    auto published = ReadTopic(kOutputTopic);
    EXPECT_EQ(published.size(), 165u);
    std::set<std::string> ids;
    for (const auto& record : published) {
        auto value = json::parse(record.value);
        ids.insert(value["event_id"].get<std::string>());
        EXPECT_EQ(Header(record, "ce_id"), value["event_id"]);
        EXPECT_EQ(Header(record, "ce_type"), "auth.user_created");
        EXPECT_EQ(Header(record, "ce_specversion"), "1.0");
        EXPECT_EQ(record.key, value["customer_id"]);
        EXPECT_FALSE(value.contains("email"));
        bool existing = record.key.rfind("cus_old_", 0) == 0;
        EXPECT_EQ(value["outcome"], existing ? "existing" : "created") << record.key;
        EXPECT_EQ(value["roles"], json::array({"ROLE_CUSTOMER"}));
        EXPECT_EQ(value["auth0_user_id"], users[record.key][0]["user_id"]);
    }
    EXPECT_EQ(ids.size(), 165u);

    // Poison events: dead-lettered with their reason.
    auto dead = ReadTopic(kDeadLetterTopic);
    EXPECT_EQ(dead.size(), 5u);
    for (const auto& record : dead) EXPECT_FALSE(Header(record, "kyc_bridge_error").empty());

    // The call budget: duplicates cost nothing; a new customer costs create + roles (+ email).
    auto stats = EmulatorGet("/__emulator/stats");
    EXPECT_EQ(Route(stats, "POST /api/v2/users"), 165);
    EXPECT_EQ(Route(stats, "POST /api/v2/users/{id}/roles"), 165);
    EXPECT_EQ(Route(stats, "PATCH /api/v2/users/{id}"), 15);  // 10 second events + 5 existing
    EXPECT_EQ(Route(stats, "POST /dbconnections/change_password"), 160);
    EXPECT_LE(stats["token_requests"].get<int>(), 2);
}


TEST_F(PipelineTest, MetricsPassPromtoolAndCarryNoPersonalData) {
    StartEmulator();
    const int port = FreeLoopbackPort();
    StartDaemon({{"KYC_BRIDGE_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}});
    Publish({{"cus_m_1", KycEvent("evt-m-1", "cus_m_1", "metrics.one@example.com").dump()},
             {"cus_m_1", KycEvent("evt-m-1", "cus_m_1", "metrics.one@example.com").dump()},
             {"cus_m_2", "{not json"}});
    WaitUntil([&] { return PublishedCustomers().size() >= 1 && ReadTopic(kDeadLetterTopic).size() >= 1; }, 60s,
              "one customer published and one dead letter");
    const auto metrics = WaitForMetric(port, "kyc_bridge_events_total{result=\"duplicate\"} 1", 30s);
    EXPECT_NE(metrics.find("kyc_bridge_events_total{result=\"rejected\"} 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("kyc_bridge_jobs_total{outcome=\"done\"} 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("kyc_bridge_ready 1"), std::string::npos) << metrics;
    EXPECT_EQ(metrics.find("@"), std::string::npos) << "no email in any metric";
    // Prometheus' own linter on the exposition (Debian's prometheus package ships promtool).
    std::ofstream(dir_ + "/metrics.txt") << metrics;
    const auto promtool = "promtool check metrics < " + dir_ + "/metrics.txt > " + dir_ + "/promtool.out 2>&1";
    EXPECT_EQ(std::system(promtool.c_str()), 0) << WaitForFile(dir_ + "/promtool.out", 1s);
    EXPECT_EQ(StopDaemon(), 0);
    EXPECT_EQ(WaitForFile(dir_ + "/daemon.log", 5s).find("metrics.one"), std::string::npos)
        << "no email in the log";
}

}  // namespace
}  // namespace kyc_bridge::testing
