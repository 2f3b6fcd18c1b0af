// SPDX-License-Identifier: Apache-2.0
// Issue #10 end to end: KYC revocation blocks the Auth0 user and publishes auth.user_blocked, a
// later verification reinstates them, and per customer the newest event wins across both input
// topics — with the real binary, the mock Kafka cluster and the Auth0 emulator.
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Events = std::vector<std::pair<std::string, std::string>>;

std::string Id(const char* format, int i) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, i);
    return buffer;
}

json VerifyAt(const std::string& event_id, const std::string& customer, const std::string& at) {
    json event = KycEvent(event_id, customer, customer + "@example.com");
    event["occurred_at"] = at;
    return event;
}

class LifecycleTest : public PipelineTest {
protected:
    /// Records on a topic grouped by key (customer), payloads parsed.
    std::map<std::string, std::vector<json>> ByCustomer(const std::string& topic) {
        std::map<std::string, std::vector<json>> grouped;
        for (const auto& record : ReadTopic(topic)) grouped[record.key].push_back(json::parse(record.value));
        return grouped;
    }
    /// Emulator users by customer id, one each (asserted).
    std::map<std::string, json> UserOf() {
        std::map<std::string, json> users;
        for (auto& [customer, list] : UsersByCustomer()) {
            EXPECT_EQ(list.size(), 1u) << customer << " has more than one Auth0 user";
            users[customer] = list.front();
        }
        return users;
    }
    /// event_id → outcome of every job in the store.
    std::map<std::string, std::string> Outcomes() {
        std::map<std::string, std::string> outcomes;
        for (const auto& row : QueryStore("SELECT event_id, outcome FROM jobs")) outcomes[row[0]] = row[1];
        return outcomes;
    }
    bool AllDone(std::size_t jobs) {
        auto states = JobStates();
        return states["done"] == static_cast<int>(jobs) && states["pending"] == 0;
    }
    /// `kyc-bridge ARGS --json --config <the daemon's>`: its JSON output lines (exit 0 asserted).
    std::vector<json> Cli(std::vector<std::string> args) {
        const auto output = dir_ + "/cli-" + std::to_string(++cli_runs_) + ".txt";
        args.insert(args.begin(), RequiredEnv("KYC_BRIDGE"));
        args.insert(args.end(), {"--json", "--config", dir_ + "/config.toml"});
        ChildProcess cli(args, {}, output);
        EXPECT_EQ(cli.WaitExit(20s), 0) << WaitForFile(output, 5s);
        std::vector<json> lines;
        std::istringstream in(WaitForFile(output, 5s));
        for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
        return lines;
    }
    int cli_runs_ = 0;
    std::map<std::string, int> EmailsPerAddress() {
        std::map<std::string, int> emails;
        for (const auto& email : EmulatorGet("/__emulator/emails")) ++emails[email["email"].get<std::string>()];
        return emails;
    }
};

TEST_F(LifecycleTest, VerifyRevokeVerifyBlocksOnceAndReinstatesWithoutASecondEmail) {
    StartEmulator({"--change-password-per-minute", "0"});  // count every email asked for
    StartDaemon();
    const int customers = 20;
    Events verify, revoke, verify_again;
    for (int i = 0; i < customers; ++i) {
        const auto customer = Id("cus_life_%02d", i);
        verify.emplace_back(customer, VerifyAt(Id("evt-v1-%d", i), customer, "2026-11-22T10:00:00Z").dump());
        revoke.emplace_back(customer, RevokeEvent(Id("evt-r-%d", i), customer, "2026-11-22T11:00:00Z",
                                                  i % 2 ? "sanctions_hit" : "fraud").dump());
        verify_again.emplace_back(customer,
                                  VerifyAt(Id("evt-v2-%d", i), customer, "2026-11-22T12:00:00Z").dump());
    }
    // Each phase waits for the one before: the topics are read independently, and the order
    // here is the real world's (a revoke is issued after the verification it revokes).
    Publish(verify);
    WaitUntil([&] { return AllDone(customers); }, 90s, "20 customers provisioned");
    PublishTo(kRevokedTopic, revoke);
    WaitUntil([&] { return AllDone(2 * customers); }, 90s, "20 revocations applied");

    auto blocked_now = UserOf();
    ASSERT_EQ(blocked_now.size(), static_cast<std::size_t>(customers));
    for (const auto& [customer, user] : blocked_now) {
        EXPECT_TRUE(user.value("blocked", false)) << customer;
        EXPECT_EQ(user["app_metadata"].value("kyc_status", ""), "REVOKED") << customer;
        EXPECT_EQ(user["app_metadata"].value("revoked_at", ""), "2026-11-22T11:00:00Z") << customer;
        EXPECT_TRUE(user["roles"].empty()) << customer << ": deprovision.remove_roles is on by default";
    }

    PublishTo(kInputTopic, verify_again);
    WaitUntil([&] { return AllDone(3 * customers); }, 90s, "20 customers reinstated");
    WaitUntil([&] { return ByCustomer(kOutputTopic).size() == customers &&
                           ByCustomer(kBlockedTopic).size() == customers; },
              30s, "every event relayed");
    const auto created = ByCustomer(kOutputTopic);
    const auto blocked = ByCustomer(kBlockedTopic);
    const auto emails = EmailsPerAddress();
    auto outcomes = Outcomes();
    for (const auto& [customer, user] : UserOf()) {
        EXPECT_FALSE(user.value("blocked", true)) << customer;
        EXPECT_EQ(user["app_metadata"].value("kyc_status", ""), "VERIFIED") << customer;
        EXPECT_FALSE(user["app_metadata"].contains("revoked_at")) << customer;
        EXPECT_EQ(user["roles"], json::array({"ROLE_CUSTOMER"})) << customer;
        EXPECT_EQ(user.value("times_blocked", 0), 1) << customer << " was not blocked exactly once";

        ASSERT_EQ(blocked.at(customer).size(), 1u) << customer << ": one auth.user_blocked";
        const auto& block = blocked.at(customer).front();
        EXPECT_EQ(block.value("auth0_user_id", ""), user.value("user_id", "")) << customer;
        EXPECT_EQ(block.value("outcome", ""), "blocked") << customer;
        EXPECT_TRUE(block.value("reason", "") == "fraud" || block.value("reason", "") == "sanctions_hit");
        EXPECT_EQ(block.value("source_event_id", "").rfind("evt-r-", 0), 0u) << customer;
        EXPECT_FALSE(block.value("event_id", "").empty());
        EXPECT_FALSE(block.value("occurred_at", "").empty());

        int reinstated = 0;
        for (const auto& event : created.at(customer)) reinstated += event.value("outcome", "") == "reinstated";
        EXPECT_EQ(reinstated, 1) << customer;
        EXPECT_EQ(created.at(customer).size(), 2u) << customer << ": created, then reinstated";
        EXPECT_EQ(emails.at(customer + "@example.com"), 1) << customer << " got a second password email";
    }
    for (int i = 0; i < customers; ++i) {
        EXPECT_EQ(outcomes[Id("evt-v1-%d", i)], "created");
        EXPECT_EQ(outcomes[Id("evt-r-%d", i)], "blocked");
        EXPECT_EQ(outcomes[Id("evt-v2-%d", i)], "reinstated");
    }
    EXPECT_EQ(StopDaemon(), 0);
}

TEST_F(LifecycleTest, AnOlderVerifyAfterANewerRevokeIsSupersededAndActivatesNobody) {
    StartEmulator();
    StartDaemon();
    Events revoke, verify;
    for (int i = 0; i < 5; ++i) {
        const auto customer = Id("cus_late_%d", i);
        revoke.emplace_back(customer, RevokeEvent(Id("evt-late-r-%d", i), customer, "2026-11-22T11:00:00Z").dump());
        verify.emplace_back(customer, VerifyAt(Id("evt-late-v-%d", i), customer, "2026-11-22T10:00:00Z").dump());
    }
    // The revoke topic's partitions run ahead: the newer revoke is applied first.
    PublishTo(kRevokedTopic, revoke);
    WaitUntil([&] { return AllDone(5); }, 60s, "5 revocations recorded");
    Publish(verify);
    WaitUntil([&] { return AllDone(10); }, 60s, "5 late verifications recorded");

    auto outcomes = Outcomes();
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(outcomes.at(Id("evt-late-r-%d", i)), "not_found") << "never provisioned";
        EXPECT_EQ(outcomes.at(Id("evt-late-v-%d", i)), "superseded");
    }
    EXPECT_TRUE(UsersByCustomer().empty()) << "a superseded verify created a user";
    EXPECT_EQ(EmulatorGet("/__emulator/stats")["by_route"].value("POST /api/v2/users", 0), 0);
    EXPECT_TRUE(ReadTopic(kOutputTopic).empty()) << "auth.user_created for a superseded verify";
    // publish_not_found is on by default: the platform hears that nobody was there to block.
    const auto blocked = ByCustomer(kBlockedTopic);
    ASSERT_EQ(blocked.size(), 5u);
    for (const auto& [customer, events] : blocked) {
        ASSERT_EQ(events.size(), 1u) << customer;
        EXPECT_EQ(events.front().value("outcome", ""), "not_found") << customer;
        EXPECT_EQ(events.front().value("auth0_user_id", "x"), "") << customer;
    }
    EXPECT_EQ(StopDaemon(), 0);
}

TEST_F(LifecycleTest, ARevokeForAnUnknownCustomerEndsNotFoundOnceWithoutPublishingIfSoConfigured) {
    StartEmulator();
    extra_toml_ = "[deprovision]\npublish_not_found = false\n";
    StartDaemon();
    PublishTo(kRevokedTopic,
              {{"cus_nobody", RevokeEvent("evt-nobody", "cus_nobody", "2026-11-22T11:00:00Z").dump()}});
    WaitUntil([&] { return AllDone(1); }, 60s, "the revocation recorded");
    const auto rows = QueryStore("SELECT state, outcome, attempts FROM jobs WHERE event_id = 'evt-nobody'");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][0], "done");
    EXPECT_EQ(rows[0][1], "not_found");
    // attempts counts failed attempts: a not_found revoke succeeds the first time, never retried.
    EXPECT_EQ(rows[0][2], "0") << "a not_found revoke must not be retried";
    EXPECT_EQ(QueryStore("SELECT count(*) FROM job_attempts a JOIN jobs j USING (job_id) "
                         "WHERE j.event_id = 'evt-nobody'")[0][0],
              "0");
    std::this_thread::sleep_for(2s);  // give a wrong publish the time to show
    EXPECT_TRUE(ReadTopic(kBlockedTopic).empty());
    EXPECT_EQ(StopDaemon(), 0);
}

TEST_F(LifecycleTest, AFailedRevokeIsListedAndReplayedWithTheOpsCli) {
    StartEmulator();
    StartDaemon();
    Publish({{"cus_ops", VerifyAt("evt-ops-v", "cus_ops", "2026-11-22T10:00:00Z").dump()}});
    WaitUntil([&] { return AllDone(1); }, 60s, "cus_ops provisioned");
    // A 400 is permanent: the revoke fails at once instead of retrying.
    EmulatorPost("/__emulator/faults", {{"kind", "status"}, {"status", 400}, {"rate", 1.0},
                                        {"duration_ms", 600000}, {"path_prefix", "/api/v2/users/"}});
    PublishTo(kRevokedTopic, {{"cus_ops", RevokeEvent("evt-ops-r", "cus_ops", "2026-11-22T11:00:00Z").dump()}});
    WaitUntil([&] { return JobStates()["failed"] == 1; }, 60s, "the revoke failed");

    auto failed = Cli({"jobs", "list", "--state", "failed"});
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0]["kind"], "revoke");
    EXPECT_EQ(failed[0]["customer_id"], "cus_ops");
    EXPECT_EQ(failed[0]["event_id"], "evt-ops-r");
    EXPECT_EQ(failed[0]["error_class"], "permanent");

    EmulatorDelete("/__emulator/faults");
    auto replayed = Cli({"replay", "--all-failed", "--reason", "tenant fixed"});
    ASSERT_EQ(replayed.size(), 1u);
    EXPECT_EQ(replayed[0]["replayed"], json::array({failed[0]["job_id"]}));
    WaitUntil([&] { return AllDone(2) && ByCustomer(kBlockedTopic).size() == 1; }, 60s,
              "the replayed revoke applied and published");
    EXPECT_TRUE(UserOf().at("cus_ops").value("blocked", false));
    auto done = Cli({"jobs", "list", "--state", "done"});
    std::map<std::string, std::pair<std::string, std::string>> kind_outcome;
    for (const auto& job : done) kind_outcome[job["event_id"]] = {job["kind"], job["outcome"]};
    EXPECT_EQ(kind_outcome["evt-ops-v"], std::make_pair(std::string("verify"), std::string("created")));
    EXPECT_EQ(kind_outcome["evt-ops-r"], std::make_pair(std::string("revoke"), std::string("blocked")));
    EXPECT_EQ(StopDaemon(), 0);
}

TEST_F(LifecycleTest, KillDuringABurstOfRevokesLosesNoneAndBlocksEachOnce) {
    StartEmulator();
    extra_toml_ = "[provision]\nconcurrency = 8\n";
    StartDaemon();
    const int customers = 60;
    Events verify, revoke;
    for (int i = 0; i < customers; ++i) {
        const auto customer = Id("cus_burst_%02d", i);
        verify.emplace_back(customer, VerifyAt(Id("evt-burst-v-%d", i), customer, "2026-11-22T10:00:00Z").dump());
        revoke.emplace_back(customer, RevokeEvent(Id("evt-burst-r-%d", i), customer, "2026-11-22T11:00:00Z").dump());
    }
    Publish(verify);
    WaitUntil([&] { return AllDone(customers); }, 120s, "60 customers provisioned");
    // A slow tenant keeps the revokes in flight when the kill comes.
    EmulatorPost("/__emulator/faults", {{"kind", "delay"}, {"delay_ms", 150}, {"rate", 1.0},
                                        {"duration_ms", 600000}, {"path_prefix", "/api/v2/"}});
    PublishTo(kRevokedTopic, revoke);
    std::mt19937 rng(20261202);
    std::string progress;
    for (int kill = 0; kill < 2; ++kill) {
        auto blocked_users = [&] {
            int n = 0;
            for (const auto& [customer, user] : UserOf()) n += user.value("blocked", false);
            return n;
        };
        const int before = blocked_users();
        WaitUntil([&] { return blocked_users() > before + 3; }, 90s, "revokes in progress");
        std::this_thread::sleep_for(std::chrono::milliseconds{std::uniform_int_distribution<int>(50, 700)(rng)});
        KillDaemon();
        progress += " " + std::to_string(blocked_users());
        StartDaemon();
    }
    std::cout << "revoke burst: users blocked at each kill:" << progress << "\n";
    WaitUntil([&] { return AllDone(2 * customers); }, 180s, "every revocation applied after the kills");
    WaitUntil([&] { return ByCustomer(kBlockedTopic).size() == customers; }, 60s,
              "an auth.user_blocked for every customer");
    EXPECT_EQ(StopDaemon(), 0);

    const auto users = UserOf();
    ASSERT_EQ(users.size(), static_cast<std::size_t>(customers));
    for (const auto& [customer, user] : users) {
        EXPECT_TRUE(user.value("blocked", false)) << customer;
        EXPECT_EQ(user.value("times_blocked", 0), 1) << customer;
        EXPECT_TRUE(user["roles"].empty()) << customer;
    }
    // A kill between the broker's ack and the outbox row's delete repeats a record; its event id
    // is deterministic, so consumers deduplicate: one distinct id per customer.
    for (const auto& [customer, events] : ByCustomer(kBlockedTopic)) {
        std::set<std::string> ids;
        for (const auto& event : events) ids.insert(event.value("event_id", ""));
        EXPECT_EQ(ids.size(), 1u) << customer;
    }
    auto outcomes = Outcomes();
    for (int i = 0; i < customers; ++i) EXPECT_EQ(outcomes.at(Id("evt-burst-r-%d", i)), "blocked");
}

}  // namespace
}  // namespace kyc_bridge::testing
