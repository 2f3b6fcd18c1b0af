// SPDX-License-Identifier: Apache-2.0
// Token-bucket estimate from x-ratelimit-* headers; waits in clock slices.
#include "kyc_bridge/auth0/pacer.hpp"

#include <algorithm>

namespace kyc_bridge::auth0 {
namespace {

using Duration = core::TimePoint::duration;
using namespace std::chrono_literals;

// Short enough that a FakeClock advances in small steps and a real sleeper notices a BlockUntil
// or an answer soon; long enough not to spin.
constexpr Duration kSlice = 50ms;
constexpr auto kProbeWaitSlice = 50ms;  // real time: waiting for another thread's answer

std::optional<Duration> IntervalOf(std::optional<double> max_requests_per_second) {
    if (!max_requests_per_second || *max_requests_per_second <= 0) return std::nullopt;
    return std::chrono::duration_cast<Duration>(
        std::chrono::duration<double>(1.0 / *max_requests_per_second));
}

}  // namespace

Pacer::Pacer(const core::Clock& clock, std::optional<double> max_requests_per_second)
    : clock_(clock), min_interval_(IntervalOf(max_requests_per_second)) {}

void Pacer::Acquire() {
    const core::TimePoint start = clock_.Now();
    bool waited = false;
    std::unique_lock lock(mutex_);
    for (;;) {
        const core::TimePoint now = clock_.Now();
        if (probing_) {
            waited = true;
            answered_.wait_for(lock, kProbeWaitSlice);
            continue;
        }
        const std::optional<core::TimePoint> target = WaitTarget(now);
        if (!target) {
            Go(now);
            break;
        }
        waited = true;
        lock.unlock();
        clock_.SleepUntil(std::min(*target, now + kSlice));
        lock.lock();
    }
    lock.unlock();
    ++stats_.requests_paced;
    if (waited) {
        ++stats_.requests_waited;
        const auto waited_for = std::max(Duration{}, clock_.Now() - start);
        stats_.wait_ms_total +=
            std::chrono::duration_cast<std::chrono::milliseconds>(waited_for).count();
    }
}

std::optional<core::TimePoint> Pacer::WaitTarget(core::TimePoint now) const {
    if (released_) return std::nullopt;
    if (blocked_until_ > now) return blocked_until_;
    if (known_ && budget_ <= 0 && reset_ > now) return reset_;
    if (next_slot_ > now) return next_slot_;
    return std::nullopt;
}

void Pacer::Go(core::TimePoint now) {
    // The budget ran out and its reset has passed (or a 429 block ended): this request is the
    // probe that learns the refilled `remaining`; the others wait for its answer.
    if ((known_ && budget_ <= 0) || probe_next_) {
        probing_ = true;
        probe_next_ = false;
    }
    if (known_) --budget_;
    ++in_flight_;

    Duration interval = min_interval_.value_or(Duration{});
    if (known_ && !probing_ && budget_ >= 0 && reset_ > now) {
        // Spread what is left evenly until the reset, rather than spending it in one burst.
        interval = std::max(interval, (reset_ - now) / (budget_ + 1));
    }
    next_slot_ = now + interval;
}

void Pacer::Finished() {
    in_flight_ = std::max<std::int64_t>(0, in_flight_ - 1);
    probing_ = false;
    answered_.notify_all();
}

void Pacer::Observe(const RateLimitHeaders& headers) {
    std::lock_guard lock(mutex_);
    Finished();
    if (!headers.Present()) {
        known_ = false;  // this API (or the emulator) does not report limits: do not pace
        return;
    }
    // Auth0's buckets refill within a second (per-second rates) or a minute (per-minute ones,
    // auth0-facts §1): a reset further out is not trusted for pacing, so that workers never
    // sleep for long inside the pacer.
    const core::TimePoint reset = std::min(core::TimePoint{std::chrono::seconds{*headers.reset_unix}},
                                           clock_.Now() + kMaxPacerWait);
    std::int64_t estimate = *headers.remaining - in_flight_;
    if (headers.limit) estimate = std::min(estimate, *headers.limit);
    if (!known_ || reset > reset_) {
        budget_ = estimate;  // newer information: the bucket was refilled since
        reset_ = reset;
    } else {
        // Same or older reset: answers can arrive out of order; keep the lower estimate.
        budget_ = std::min(budget_, estimate);
    }
    known_ = true;
}

void Pacer::Abandon() {
    std::lock_guard lock(mutex_);
    Finished();
}

void Pacer::Release() {
    std::lock_guard lock(mutex_);
    released_ = true;
}

void Pacer::BlockUntil(core::TimePoint until) {
    std::lock_guard lock(mutex_);
    blocked_until_ = std::max(blocked_until_, std::min(until, clock_.Now() + kMaxPacerWait));
    probe_next_ = true;
}

}  // namespace kyc_bridge::auth0
