// SPDX-License-Identifier: Apache-2.0
// Spaces Management API requests so the tenant's rate-limit budget is used without 429s.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

#include "kyc_bridge/auth0/classify.hpp"
#include "kyc_bridge/core/clock.hpp"

namespace kyc_bridge::auth0 {

/// Plain counters; another module renders them as metrics.
struct PacerStats {
    std::atomic<std::uint64_t> requests_paced{0};   ///< Acquire calls that returned
    std::atomic<std::uint64_t> requests_waited{0};  ///< … of which had to wait
    std::atomic<std::uint64_t> wait_ms_total{0};    ///< clock time spent waiting in Acquire
};

/// One pacer shared by every outgoing Management API request. Auth0's limiter is a token bucket
/// (burst = bucket size, continuous refill; docs-v2 rate-limit-policy.mdx) and every answer
/// carries x-ratelimit-limit/-remaining/-reset, reset in UNIX seconds (rate-limit-use-cases.mdx).
///
/// The pacer keeps an estimate of the bucket: the latest `remaining` minus the requests issued
/// since and not yet answered. While the estimate is positive, requests are spread evenly over
/// the time until `reset` (interval = time to reset / (estimate + 1)), so a small budget is not
/// burned at once. When it reaches 0, callers wait until `reset`, then a single probe request
/// goes out and the others wait for its answer to learn the refilled `remaining`. Answers
/// without the headers switch pacing off (the API does not report limits), and requests are
/// not held back before the first answer has been seen. A 429 blocks every
/// caller until its not_before (BlockUntil). max_requests_per_second caps the rate further.
///
/// Thread-safe. Every Acquire must be followed by exactly one Observe (an answer came) or
/// Abandon (no answer: transport failure). Waits go through Clock::SleepUntil in slices of at
/// most 50 ms, so a FakeClock drives it in tests without real sleeping.
/// The longest a request waits in the pacer for one reset or 429 block.
inline constexpr std::chrono::seconds kMaxPacerWait{60};

class Pacer {
public:
    Pacer(const core::Clock& clock, std::optional<double> max_requests_per_second);

    /// Blocks until one request may be sent.
    void Acquire();
    /// The rate-limit headers of an answer to an acquired request.
    void Observe(const RateLimitHeaders& headers);
    /// An acquired request got no answer.
    void Abandon();
    /// After a 429: nobody goes before `until`; then one probe request goes first.
    void BlockUntil(core::TimePoint until);

    /// Shutdown: nobody waits any more (a waiting worker would hold up the stop).
    void Release();
    const PacerStats& stats() const { return stats_; }

private:
    /// Time until which the caller must wait now, or nullopt if it may go (lock held).
    std::optional<core::TimePoint> WaitTarget(core::TimePoint now) const;
    void Go(core::TimePoint now);
    void Finished();

    const core::Clock& clock_;
    const std::optional<core::TimePoint::duration> min_interval_;
    std::mutex mutex_;
    std::condition_variable answered_;
    bool known_ = false;           ///< the API reports limits; budget_ and reset_ are meaningful
    std::int64_t budget_ = 0;      ///< estimated requests left in the bucket
    core::TimePoint reset_{};      ///< when the bucket gets more requests
    core::TimePoint next_slot_{};  ///< earliest time of the next request (spacing)
    std::int64_t in_flight_ = 0;   ///< acquired, neither observed nor abandoned
    bool probing_ = false;         ///< a probe is in flight; others wait for its answer
    bool probe_next_ = false;      ///< after a 429: the next request is a probe
    core::TimePoint blocked_until_{};  ///< from BlockUntil
    bool released_ = false;
    PacerStats stats_;
};

}  // namespace kyc_bridge::auth0
