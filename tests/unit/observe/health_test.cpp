// SPDX-License-Identifier: Apache-2.0
// /healthz and /readyz decisions, with a fake clock and fake loop states.
#include "kyc_bridge/observe/health.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kyc_bridge::observe {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(Health, AllLoopsBeatingWithinTheBoundIsHealthy) {
    core::FakeClock clock;
    Heartbeat consumer, scheduler;
    consumer.Beat(clock.Now());
    scheduler.Beat(clock.Now());
    clock.Advance(29s);
    auto answer = CheckLoops({{"consumer", [&] { return consumer.LastMillis(); }},
                              {"scheduler", [&] { return scheduler.LastMillis(); }}},
                             clock.Now(), 30s);
    EXPECT_EQ(answer.status, 200);
    EXPECT_EQ(json::parse(answer.body)["status"], "ok");
}

TEST(Health, AStuckLoopIsNamedWith503) {
    core::FakeClock clock;
    Heartbeat consumer, relay;
    consumer.Beat(clock.Now());
    relay.Beat(clock.Now());
    clock.Advance(31s);
    consumer.Beat(clock.Now());
    auto answer = CheckLoops({{"consumer", [&] { return consumer.LastMillis(); }},
                              {"relay", [&] { return relay.LastMillis(); }}},
                             clock.Now(), 30s);
    EXPECT_EQ(answer.status, 503);
    auto body = json::parse(answer.body);
    ASSERT_EQ(body["stuck"].size(), 1u);
    EXPECT_EQ(body["stuck"][0]["loop"], "relay");
    EXPECT_DOUBLE_EQ(body["stuck"][0]["seconds_since_beat"].get<double>(), 31.0);
}

TEST(Health, ALoopNotStartedYetIsNotStuck) {
    core::FakeClock clock;
    Heartbeat never;
    auto answer = CheckLoops({{"scheduler", [&] { return never.LastMillis(); }}}, clock.Now(), 1s);
    EXPECT_EQ(answer.status, 200);
}

TEST(Readiness, ReadyWhenEveryCheckHolds) {
    auto answer = CheckReadiness({{"a", [] { return true; }}, {"b", [] { return true; }}});
    EXPECT_EQ(answer.status, 200);
    EXPECT_EQ(json::parse(answer.body), json({{"ready", true}, {"reasons", json::array()}}));
}

TEST(Readiness, NamesEveryFailingCheckInOrder) {
    bool token = false, quarantined = true;
    auto answer = CheckReadiness({{"auth0_token_unavailable", [&] { return token; }},
                                  {"store_not_writable", [] { return true; }},
                                  {"provisioning_quarantined", [&] { return !quarantined; }}});
    EXPECT_EQ(answer.status, 503);
    EXPECT_EQ(json::parse(answer.body),
              json({{"ready", false},
                    {"reasons", {"auth0_token_unavailable", "provisioning_quarantined"}}}));
    token = true;
    quarantined = false;
    answer = CheckReadiness({{"auth0_token_unavailable", [&] { return token; }},
                             {"provisioning_quarantined", [&] { return !quarantined; }}});
    EXPECT_EQ(answer.status, 200);
}

}  // namespace
}  // namespace kyc_bridge::observe
