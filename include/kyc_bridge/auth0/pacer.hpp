// SPDX-License-Identifier: Apache-2.0
// Spaces Management API requests so the tenant's rate-limit budget is used without 429s.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "kyc_bridge/auth0/classify.hpp"
#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/core/timers.hpp"

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
/// Abandon (no answer: transport failure). Blocking waits go through Clock::SleepUntil in slices
/// of at most 50 ms, so a FakeClock drives it in tests without real sleeping. Non-blocking
/// waiters queue in FIFO order and are granted from Observe/Abandon/BlockUntil/Release or from a
/// timer; blocking callers do not queue behind them (they are for start-up and probes).
class Pacer {
public:
    /// `timers` runs the wake-ups of non-blocking waiters and must outlive the pacer (tests pass
    /// core::ManualTimers); without it the pacer owns a thread that waits with `clock`.
    Pacer(const core::Clock& clock, std::optional<double> max_requests_per_second,
          core::Timers* timers = nullptr);
    /// Stops the pacer's own timer thread; waiters not yet granted are dropped.
    ~Pacer();
    Pacer(const Pacer&) = delete;
    Pacer& operator=(const Pacer&) = delete;

    /// Blocks until one request may be sent.
    void Acquire();
    /// Non-blocking Acquire: `go` runs inline if the request may go now and nobody queues before
    /// it, otherwise later, in FIFO order, on the timer's thread or on the thread whose Observe,
    /// Abandon or Release let it go. `go` must not block. After Release every waiter goes at once
    /// (its request then goes out, or fails fast if the HTTP client was shut down too).
    void Acquire(std::function<void()> go);
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
    void Learn(const RateLimitHeaders& headers);  ///< Observe without the re-dispatch
    /// Grants queued waiters that may go now, arms a timer for the next one; runs them unlocked.
    void Dispatch();
    void OnTimer(core::TimePoint armed_for);
    void Count(bool waited, core::TimePoint since);

    struct Waiter {
        std::function<void()> go;
        core::TimePoint since;
    };

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
    std::deque<Waiter> waiters_;               ///< non-blocking callers, FIFO
    std::optional<core::TimePoint> timer_at_;  ///< earliest armed wake-up
    PacerStats stats_;
    std::unique_ptr<core::Timers> own_timers_;  ///< when none was injected; stops first
    core::Timers* timers_;
};

/// The longest a request waits in the pacer for one reset or 429 block.
inline constexpr std::chrono::seconds kMaxPacerWait{60};

}  // namespace kyc_bridge::auth0
