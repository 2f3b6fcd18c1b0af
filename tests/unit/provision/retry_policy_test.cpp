// SPDX-License-Identifier: Apache-2.0
// Backoff bounds, server hints, and when a job fails for good.
#include "kyc_bridge/provision/retry_policy.hpp"

#include <gtest/gtest.h>

namespace kyc_bridge::provision {
namespace {

using namespace std::chrono_literals;
using core::Error;
using core::ErrorKind;

const core::TimePoint kNow{std::chrono::seconds{1'800'000'000}};

TEST(RetryPolicy, FullJitterStaysUnderTheCappedExponentialCeiling) {
    RetryPolicy policy(RetrySettings{}, 42);
    EXPECT_EQ(policy.BackoffCeiling(1), 200ms);
    EXPECT_EQ(policy.BackoffCeiling(2), 400ms);
    EXPECT_EQ(policy.BackoffCeiling(9), 51200ms);
    EXPECT_EQ(policy.BackoffCeiling(10), 60000ms);
    EXPECT_EQ(policy.BackoffCeiling(40), 60000ms);
    bool saw_small = false;
    for (int i = 0; i < 200; ++i) {
        auto d = policy.Decide(Error::Transient("x"), 5, kNow, kNow);
        ASSERT_TRUE(d.retry);
        EXPECT_GE(d.next_attempt_at, kNow);
        EXPECT_LE(d.next_attempt_at, kNow + 3200ms);
        saw_small |= d.next_attempt_at < kNow + 1600ms;
    }
    EXPECT_TRUE(saw_small);
}

TEST(RetryPolicy, NeverRetriesBeforeTheServersHint) {
    RetryPolicy policy(RetrySettings{}, 1);
    Error limited{ErrorKind::kRateLimited, "429", "too_many_requests", 429, kNow + 7s};
    auto d = policy.Decide(limited, 1, kNow, kNow);
    ASSERT_TRUE(d.retry);
    EXPECT_GE(d.next_attempt_at, kNow + 7s);
}

TEST(RetryPolicy, PermanentErrorsFailAtOnceWithTheirCode) {
    RetryPolicy policy(RetrySettings{}, 1);
    auto d = policy.Decide(Error::Permanent("bad email", "invalid_body"), 1, kNow, kNow);
    EXPECT_FALSE(d.retry);
    EXPECT_EQ(d.reason, "invalid_body");
}

TEST(RetryPolicy, ExhaustedAttemptsOrAgeFail) {
    RetryPolicy policy(RetrySettings{}, 1);
    EXPECT_TRUE(policy.Decide(Error::Transient("x"), 11, kNow, kNow).retry);
    EXPECT_EQ(policy.Decide(Error::Transient("x"), 12, kNow, kNow).reason, "max_attempts_exhausted");
    EXPECT_EQ(policy.Decide(Error::Transient("x"), 1, kNow - 86400s, kNow).reason,
              "max_age_exceeded");
}

TEST(RetryPolicy, RateLimitsSpendNoAttemptsOnlyAge) {
    RetryPolicy policy(RetrySettings{}, 1);
    Error limited{ErrorKind::kRateLimited, "429", "too_many_requests", 429, std::nullopt};
    EXPECT_TRUE(policy.Decide(limited, 50, kNow, kNow).retry) << "a budget, not an error";
    EXPECT_EQ(policy.Decide(limited, 1, kNow - 86400s, kNow).reason, "max_age_exceeded");
}

TEST(RetryPolicy, UnresolvedConflictsAreSpacedThenFail) {
    RetryPolicy policy(RetrySettings{}, 1);
    Error conflict{ErrorKind::kConflict, "409", "conflict_unresolved", 409, std::nullopt};
    auto d = policy.Decide(conflict, 1, kNow, kNow);
    ASSERT_TRUE(d.retry);
    EXPECT_GE(d.next_attempt_at, kNow + 1s);
    EXPECT_EQ(policy.Decide(conflict, 4, kNow, kNow).reason, "conflict_unresolved");
}

}  // namespace
}  // namespace kyc_bridge::provision
