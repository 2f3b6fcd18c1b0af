// SPDX-License-Identifier: Apache-2.0
// The system clock, the fake clock and the store's time unit.
#include "kyc_bridge/core/clock.hpp"

#include <thread>

namespace kyc_bridge::core {

TimePoint SystemClock::Now() const { return std::chrono::system_clock::now(); }

void SystemClock::SleepUntil(TimePoint deadline) const { std::this_thread::sleep_until(deadline); }

void FakeClock::SleepUntil(TimePoint deadline) const {
    auto target = deadline.time_since_epoch().count();
    auto current = now_ns_.load();
    while (current < target && !now_ns_.compare_exchange_weak(current, target)) {
    }
}

std::int64_t ToUnixMillis(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint FromUnixMillis(std::int64_t ms) {
    return TimePoint{std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds{ms})};
}

}  // namespace kyc_bridge::core
