// SPDX-License-Identifier: Apache-2.0
// Injectable wall clock, so that token expiry, backoff and pacing are tested without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::core {

/// Source of wall-clock time. Wall time (not steady) because schedules are stored in SQLite and
/// Auth0's x-ratelimit-reset is a UNIX timestamp. Implementations are thread-safe.
class Clock {
public:
    virtual ~Clock() = default;
    virtual TimePoint Now() const = 0;
    /// Blocks the calling thread until `deadline` (returns at once if it has passed).
    virtual void SleepUntil(TimePoint deadline) const = 0;
    void SleepFor(std::chrono::milliseconds duration) const { SleepUntil(Now() + duration); }
};

/// The real clock.
class SystemClock final : public Clock {
public:
    TimePoint Now() const override;
    void SleepUntil(TimePoint deadline) const override;
};

/// A clock that only moves when told to; SleepUntil advances it to the deadline at once.
class FakeClock final : public Clock {
public:
    explicit FakeClock(TimePoint start = TimePoint{std::chrono::seconds{1'800'000'000}})
        : now_ns_(start.time_since_epoch().count()) {}
    TimePoint Now() const override { return TimePoint{TimePoint::duration{now_ns_.load()}}; }
    void SleepUntil(TimePoint deadline) const override;
    void Advance(std::chrono::milliseconds by) { now_ns_ += TimePoint::duration{by}.count(); }

private:
    mutable std::atomic<TimePoint::rep> now_ns_;
};

/// Milliseconds since the UNIX epoch, the unit the store keeps times in.
std::int64_t ToUnixMillis(TimePoint t);
TimePoint FromUnixMillis(std::int64_t ms);

}  // namespace kyc_bridge::core
