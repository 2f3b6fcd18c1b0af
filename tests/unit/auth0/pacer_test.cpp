// SPDX-License-Identifier: Apache-2.0
// Pacer driven by a FakeClock: waits for reset, spacing, 429 blocks, concurrent callers.
#include "kyc_bridge/auth0/pacer.hpp"

#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace kyc_bridge::auth0 {
namespace {

using namespace std::chrono_literals;

std::int64_t UnixSeconds(core::TimePoint t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

RateLimitHeaders Headers(std::int64_t remaining, core::TimePoint reset, std::int64_t limit = 50) {
    return {limit, remaining, UnixSeconds(reset)};
}

TEST(Pacer, UnknownBudgetAndNoCapLetsRequestsGoAtOnce) {
    core::FakeClock clock;
    Pacer pacer(clock, std::nullopt);
    const auto start = clock.Now();
    for (int i = 0; i < 100; ++i) {
        pacer.Acquire();
        pacer.Observe({});
    }
    EXPECT_EQ(clock.Now(), start);
    EXPECT_EQ(pacer.stats().requests_paced.load(), 100u);
    EXPECT_EQ(pacer.stats().requests_waited.load(), 0u);
}

TEST(Pacer, WaitsForResetWhenRemainingHitsZero) {
    core::FakeClock clock;
    Pacer pacer(clock, std::nullopt);
    const auto reset = clock.Now() + 5s;
    pacer.Acquire();
    pacer.Observe(Headers(0, reset));
    pacer.Acquire();  // the probe after the reset
    EXPECT_GE(clock.Now(), reset);
    EXPECT_LT(clock.Now(), reset + 100ms);
    EXPECT_EQ(pacer.stats().requests_waited.load(), 1u);
    EXPECT_GE(pacer.stats().wait_ms_total.load(), 5000u);
}

TEST(Pacer, OneProbeAfterResetThenOthersWaitForItsAnswer) {
    core::FakeClock clock;
    Pacer pacer(clock, std::nullopt);
    const auto reset = clock.Now() + 2s;
    pacer.Acquire();
    pacer.Observe(Headers(0, reset));
    pacer.Acquire();  // probe
    std::atomic<bool> second_went{false};
    std::thread second([&] {
        pacer.Acquire();
        second_went = true;
        pacer.Observe(Headers(8, reset + 1s));
    });
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(second_went.load());
    pacer.Observe(Headers(9, reset + 1s));  // the probe's answer: refilled
    second.join();
    EXPECT_TRUE(second_went.load());
}

TEST(Pacer, RespectsMaxRequestsPerSecond) {
    core::FakeClock clock;
    Pacer pacer(clock, 4.0);
    std::vector<core::TimePoint> times;
    for (int i = 0; i < 5; ++i) {
        pacer.Acquire();
        times.push_back(clock.Now());
        pacer.Observe({});
    }
    for (std::size_t i = 1; i < times.size(); ++i) EXPECT_GE(times[i] - times[i - 1], 250ms);
    EXPECT_LT(times.back() - times.front(), 1100ms);
}

TEST(Pacer, SpreadsASmallBudgetUntilTheReset) {
    core::FakeClock clock;
    Pacer pacer(clock, std::nullopt);
    const auto reset = core::TimePoint{std::chrono::seconds{UnixSeconds(clock.Now()) + 10}};
    pacer.Acquire();
    pacer.Observe(Headers(4, reset));
    std::vector<core::TimePoint> times;
    for (int i = 0; i < 4; ++i) {
        pacer.Acquire();
        times.push_back(clock.Now());
        pacer.Observe(Headers(3 - i, reset));
    }
    // 4 requests over the 10 s to the reset, about 2 s apart, the last one before the reset.
    for (std::size_t i = 1; i < times.size(); ++i) EXPECT_GE(times[i] - times[i - 1], 1900ms);
    EXPECT_LT(times.back(), reset);
}

TEST(Pacer, HonoursBlockUntilAfterA429) {
    core::FakeClock clock;
    Pacer pacer(clock, std::nullopt);
    const auto until = clock.Now() + 30s;
    pacer.Acquire();
    pacer.Observe({});
    pacer.BlockUntil(until);
    pacer.Acquire();
    EXPECT_GE(clock.Now(), until);
    pacer.Observe({});
}

TEST(Pacer, ConcurrentCallersDoNotOvershootTheRemainingBudget) {
    core::FakeClock clock;
    Pacer pacer(clock, std::nullopt);
    const auto reset = core::TimePoint{std::chrono::seconds{UnixSeconds(clock.Now()) + 10}};
    pacer.Acquire();
    pacer.Observe(Headers(5, reset));

    std::mutex mutex;
    std::vector<core::TimePoint> times;
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i) {
        threads.emplace_back([&] {
            pacer.Acquire();
            {
                std::lock_guard lock(mutex);
                times.push_back(clock.Now());
            }
            pacer.Abandon();  // no answer: the estimate is never raised
        });
    }
    for (auto& t : threads) t.join();
    int before_reset = 0;
    for (auto t : times) before_reset += t < reset ? 1 : 0;
    EXPECT_EQ(times.size(), 16u);
    EXPECT_LE(before_reset, 5);
    EXPECT_EQ(pacer.stats().requests_paced.load(), 17u);
}

TEST(Pacer, AnswersFromInFlightRequestsAreCountedAgainstRemaining) {
    core::FakeClock clock;
    Pacer pacer(clock, std::nullopt);
    const auto reset = core::TimePoint{std::chrono::seconds{UnixSeconds(clock.Now()) + 1}};
    pacer.Acquire();
    pacer.Acquire();
    pacer.Acquire();
    // The first answer says 2 left, but two requests are still in flight: nothing left.
    pacer.Observe(Headers(2, reset));
    const auto before = clock.Now();
    std::thread waiter([&] { pacer.Acquire(); });
    waiter.join();
    EXPECT_GE(clock.Now(), reset);
    EXPECT_GT(clock.Now(), before);
}

TEST(Pacer, AnswersWithoutHeadersTurnPacingOff) {
    core::FakeClock clock;
    Pacer pacer(clock, std::nullopt);
    pacer.Acquire();
    pacer.Observe(Headers(0, clock.Now() + 60s));
    pacer.Acquire();  // waits for the reset, probe
    pacer.Observe({});
    const auto after_probe = clock.Now();
    for (int i = 0; i < 10; ++i) {
        pacer.Acquire();
        pacer.Observe({});
    }
    EXPECT_EQ(clock.Now(), after_probe);
}

}  // namespace
}  // namespace kyc_bridge::auth0
