// SPDX-License-Identifier: Apache-2.0
// Token-bucket estimate from x-ratelimit-* headers; blocking waits in clock slices, async ones
// on timers.
#include "kyc_bridge/auth0/pacer.hpp"

#include <algorithm>
#include <map>
#include <thread>
#include <utility>
#include <vector>

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

// The pacer's own timer when none is injected: waits with the pacer's clock (in slices, so an
// earlier task is noticed soon), so that a FakeClock drives non-blocking waits as it drives
// blocking ones.
class ClockTimers final : public core::Timers {
public:
    explicit ClockTimers(const core::Clock& clock) : clock_(clock), thread_([this] { Loop(); }) {}
    ~ClockTimers() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            queue_.clear();
        }
        cv_.notify_all();
        thread_.join();
    }
    ClockTimers(const ClockTimers&) = delete;
    ClockTimers& operator=(const ClockTimers&) = delete;

    void At(core::TimePoint when, std::function<void()> task) override {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            queue_.emplace(when, std::move(task));
        }
        cv_.notify_all();
    }

private:
    void Loop() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            if (queue_.empty()) {
                cv_.wait(lock);
                continue;
            }
            const core::TimePoint now = clock_.Now();
            auto first = queue_.begin();
            if (first->first > now) {
                const core::TimePoint until = std::min(first->first, now + kSlice);
                lock.unlock();
                clock_.SleepUntil(until);
                lock.lock();
                continue;
            }
            std::function<void()> task = std::move(first->second);
            queue_.erase(first);
            lock.unlock();
            task();
            lock.lock();
        }
    }

    const core::Clock& clock_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::multimap<core::TimePoint, std::function<void()>> queue_;
    bool stopping_ = false;
    std::thread thread_;  // last: starts after the rest is built
};

}  // namespace

Pacer::Pacer(const core::Clock& clock, std::optional<double> max_requests_per_second,
             core::Timers* timers)
    : clock_(clock),
      min_interval_(IntervalOf(max_requests_per_second)),
      own_timers_(timers == nullptr ? std::make_unique<ClockTimers>(clock) : nullptr),
      timers_(timers == nullptr ? own_timers_.get() : timers) {}

// The timer thread runs pacer code: it stops before any member goes away.
Pacer::~Pacer() { own_timers_.reset(); }

void Pacer::Acquire(std::function<void()> go) {
    std::unique_lock lock(mutex_);
    const core::TimePoint now = clock_.Now();
    if (waiters_.empty() && (released_ || (!probing_ && !WaitTarget(now)))) {
        Go(now);
        lock.unlock();
        Count(false, now);
        go();
        return;
    }
    waiters_.push_back({std::move(go), now});
    lock.unlock();
    Dispatch();
}

void Pacer::Dispatch() {
    std::vector<Waiter> ready;
    std::optional<core::TimePoint> arm;
    {
        std::lock_guard lock(mutex_);
        const core::TimePoint now = clock_.Now();
        while (!waiters_.empty()) {
            if (!released_ && probing_) break;  // the probe's Observe/Abandon dispatches again
            if (const std::optional<core::TimePoint> target = WaitTarget(now)) {
                if (!timer_at_ || *target < *timer_at_) arm = timer_at_ = *target;
                break;
            }
            Go(now);
            ready.push_back(std::move(waiters_.front()));
            waiters_.pop_front();
        }
    }
    if (arm) timers_->At(*arm, [this, at = *arm] { OnTimer(at); });
    for (Waiter& waiter : ready) {
        Count(true, waiter.since);
        waiter.go();
    }
}

void Pacer::OnTimer(core::TimePoint armed_for) {
    {
        std::lock_guard lock(mutex_);
        if (timer_at_ == armed_for) timer_at_.reset();
    }
    Dispatch();
}

void Pacer::Count(bool waited, core::TimePoint since) {
    ++stats_.requests_paced;
    if (!waited) return;
    ++stats_.requests_waited;
    const auto waited_for = std::max(Duration{}, clock_.Now() - since);
    stats_.wait_ms_total +=
        std::chrono::duration_cast<std::chrono::milliseconds>(waited_for).count();
}

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
    Learn(headers);
    Dispatch();
}

void Pacer::Learn(const RateLimitHeaders& headers) {
    std::lock_guard lock(mutex_);
    Finished();
    if (!headers.Present()) {
        known_ = false;  // this API (or the emulator) does not report limits: do not pace
        return;
    }
    // Auth0's buckets refill within a second (per-second rates) or a minute (per-minute ones,
    // auth0-facts §1): a reset further out is not trusted for pacing, so that workers never
    // sleep for long inside the pacer.
    // Compared in seconds first: a hostile reset converted to a TimePoint would overflow.
    const auto latest = clock_.Now() + kMaxPacerWait;
    const auto latest_s =
        std::chrono::duration_cast<std::chrono::seconds>(latest.time_since_epoch()).count();
    const core::TimePoint reset =
        *headers.reset_unix >= latest_s
            ? latest
            : core::TimePoint{std::chrono::seconds{std::max<std::int64_t>(*headers.reset_unix, 0)}};
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
    {
        std::lock_guard lock(mutex_);
        Finished();
    }
    Dispatch();
}

void Pacer::Release() {
    {
        std::lock_guard lock(mutex_);
        released_ = true;
    }
    Dispatch();
}

void Pacer::BlockUntil(core::TimePoint until) {
    {
        std::lock_guard lock(mutex_);
        blocked_until_ = std::max(blocked_until_, std::min(until, clock_.Now() + kMaxPacerWait));
        probe_next_ = true;
    }
    Dispatch();  // arms a timer for the block's end if waiters queue
}

}  // namespace kyc_bridge::auth0
