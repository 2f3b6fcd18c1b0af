// SPDX-License-Identifier: Apache-2.0
// Pacer driven by a FakeClock: waits for reset, spacing, 429 blocks, concurrent callers.
#include "kyc_bridge/auth0/pacer.hpp"

#include <gtest/gtest.h>

#include <limits>

#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kyc_bridge/core/timers.hpp"

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

// Fuzzer finding: a hostile reset overflowed when converted to a TimePoint.
TEST(Pacer, AHugeResetWaitsAtMostTheCap) {
    core::FakeClock clock;
    Pacer pacer(clock, std::nullopt);
    const auto start = clock.Now();
    pacer.Acquire();
    RateLimitHeaders headers;
    headers.limit = 10;
    headers.remaining = 0;
    headers.reset_unix = std::numeric_limits<std::int64_t>::max();
    pacer.Observe(headers);
    pacer.Acquire();
    EXPECT_LE(clock.Now(), start + kMaxPacerWait + 1s);
    pacer.Observe({});
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

// Runs the timers' tasks in time order, moving the fake clock to each one (as time passing would).
void RunAllTimers(core::FakeClock& clock, core::ManualTimers& timers) {
    for (int guard = 0; timers.size() > 0 && guard < 1000; ++guard) {
        const core::TimePoint next = timers.Next();
        if (next > clock.Now()) {
            clock.Advance(std::chrono::ceil<std::chrono::milliseconds>(next - clock.Now()));
        }
        timers.RunDue(clock.Now());
    }
}

TEST(Pacer, AsyncWaitersGoInOrderAndAreSpread) {
    core::FakeClock clock;
    core::ManualTimers timers;
    Pacer pacer(clock, 4.0, &timers);
    std::vector<int> order;
    std::vector<core::TimePoint> times;
    for (int i = 0; i < 5; ++i) {
        pacer.Acquire([&, i] {
            order.push_back(i);
            times.push_back(clock.Now());
            pacer.Observe({});
        });
    }
    ASSERT_EQ(order, std::vector<int>{0}) << "the first goes inline, the others wait";
    RunAllTimers(clock, timers);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
    ASSERT_EQ(times.size(), 5u);
    for (std::size_t i = 1; i < times.size(); ++i) EXPECT_GE(times[i] - times[i - 1], 250ms);
    EXPECT_LT(times.back() - times.front(), 1100ms);
    EXPECT_EQ(pacer.stats().requests_paced.load(), 5u);
    EXPECT_EQ(pacer.stats().requests_waited.load(), 4u);
}

TEST(Pacer, BlockUntilHoldsEveryAsyncWaiter) {
    core::FakeClock clock;
    core::ManualTimers timers;
    Pacer pacer(clock, std::nullopt, &timers);
    const auto until = clock.Now() + 30s;
    pacer.Acquire();
    pacer.BlockUntil(until);
    pacer.Observe({});  // the 429's answer
    std::vector<core::TimePoint> times;
    for (int i = 0; i < 3; ++i) {
        pacer.Acquire([&] {
            times.push_back(clock.Now());
            pacer.Observe({});
        });
    }
    EXPECT_TRUE(times.empty());
    clock.Advance(29s);
    timers.RunDue(clock.Now());
    EXPECT_TRUE(times.empty()) << "a waiter went before the block's end";
    RunAllTimers(clock, timers);
    ASSERT_EQ(times.size(), 3u);
    for (auto t : times) EXPECT_GE(t, until);
}

TEST(Pacer, TheProbeAfterABlockGoesAloneUntilItsAnswer) {
    core::FakeClock clock;
    core::ManualTimers timers;
    Pacer pacer(clock, std::nullopt, &timers);
    pacer.BlockUntil(clock.Now() + 5s);
    int went = 0;
    for (int i = 0; i < 3; ++i) pacer.Acquire([&] { ++went; });
    RunAllTimers(clock, timers);
    EXPECT_EQ(went, 1) << "only the probe goes after the block";
    pacer.Observe({});  // its answer lets the others go
    EXPECT_EQ(went, 3);
}

TEST(Pacer, ReleaseLetsAsyncWaitersGo) {
    core::FakeClock clock;
    core::ManualTimers timers;
    Pacer pacer(clock, std::nullopt, &timers);
    pacer.BlockUntil(clock.Now() + 30s);
    const auto before = clock.Now();
    int went = 0;
    for (int i = 0; i < 3; ++i) pacer.Acquire([&] { ++went; });
    EXPECT_EQ(went, 0);
    pacer.Release();
    EXPECT_EQ(went, 3);
    EXPECT_EQ(clock.Now(), before);
    pacer.Acquire([&] { ++went; });  // after Release: inline
    EXPECT_EQ(went, 4);
}

TEST(Pacer, AsyncWaitersWithoutInjectedTimersAreWokenByThePacersThread) {
    core::FakeClock clock;
    Pacer pacer(clock, std::nullopt);
    const auto until = clock.Now() + 10s;
    pacer.BlockUntil(until);
    std::promise<core::TimePoint> went;
    pacer.Acquire([&] { went.set_value(clock.Now()); });
    EXPECT_GE(went.get_future().get(), until);  // the thread waits with the (fake) clock
    pacer.Observe({});
}

}  // namespace
}  // namespace kyc_bridge::auth0
