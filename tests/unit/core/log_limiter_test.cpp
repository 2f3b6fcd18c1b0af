// SPDX-License-Identifier: Apache-2.0
// Repeated log lines: one per key per interval, the next one counts what was held back.
#include "kyc_bridge/core/log_limiter.hpp"

#include <gtest/gtest.h>

namespace kyc_bridge::core {
namespace {

using namespace std::chrono_literals;

TEST(LogLimiter, AdmitsOneLinePerKeyPerIntervalAndCountsTheRest) {
    FakeClock clock;
    LogLimiter limiter(clock, 10s);
    EXPECT_EQ(limiter.Admit("auth0_call_failed/create_user/429"), 0u);
    for (int i = 0; i < 5; ++i) {
        clock.Advance(1s);
        EXPECT_EQ(limiter.Admit("auth0_call_failed/create_user/429"), std::nullopt);
    }
    clock.Advance(5s);  // 10 s after the admitted line
    EXPECT_EQ(limiter.Admit("auth0_call_failed/create_user/429"), 5u);
    clock.Advance(10s);
    EXPECT_EQ(limiter.Admit("auth0_call_failed/create_user/429"), 0u);
}

TEST(LogLimiter, KeysAreIndependent) {
    FakeClock clock;
    LogLimiter limiter(clock, 10s);
    EXPECT_EQ(limiter.Admit("a"), 0u);
    EXPECT_EQ(limiter.Admit("b"), 0u);
    EXPECT_EQ(limiter.Admit("a"), std::nullopt);
    EXPECT_EQ(limiter.Admit("c"), 0u);
}

TEST(LogLimiter, BoundedKeysForgetQuietOnesFirst) {
    FakeClock clock;
    LogLimiter limiter(clock, 10s, /*max_keys=*/2);
    EXPECT_EQ(limiter.Admit("old"), 0u);
    clock.Advance(11s);
    EXPECT_EQ(limiter.Admit("recent"), 0u);
    EXPECT_EQ(limiter.Admit("new"), 0u);               // full: "old" is forgotten
    EXPECT_EQ(limiter.Admit("recent"), std::nullopt);  // still remembered
    EXPECT_EQ(limiter.Admit("new"), std::nullopt);
}

}  // namespace
}  // namespace kyc_bridge::core
