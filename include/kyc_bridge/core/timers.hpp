// SPDX-License-Identifier: Apache-2.0
// Runs short tasks at a given time on one thread: the waits of non-blocking code (pacing, backoff).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "kyc_bridge/core/clock.hpp"

namespace kyc_bridge::core {

/// Somewhere to run a task later. Tasks must be short and must not block.
class Timers {
public:
    virtual ~Timers() = default;
    /// Runs `task` at or soon after `when` (at once, on the timer thread, if it has passed).
    virtual void At(TimePoint when, std::function<void()> task) = 0;
    void After(std::chrono::milliseconds delay, std::function<void()> task, const Clock& clock) {
        At(clock.Now() + delay, std::move(task));
    }
};

/// One thread and a time-ordered queue, on the real clock. Stop() (and the destructor) runs
/// nothing more; tasks still queued are dropped, so owners stop their timers before the state
/// the tasks touch goes away. Thread-safe.
class TimerThread final : public Timers {
public:
    TimerThread();
    ~TimerThread() override;
    TimerThread(const TimerThread&) = delete;
    TimerThread& operator=(const TimerThread&) = delete;

    void At(TimePoint when, std::function<void()> task) override;
    void Stop();

private:
    void Loop();

    std::mutex mutex_;
    std::condition_variable cv_;
    std::multimap<TimePoint, std::function<void()>> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

/// For tests: tasks run only when RunDue is called, against a FakeClock or any clock.
class ManualTimers final : public Timers {
public:
    void At(TimePoint when, std::function<void()> task) override;
    /// Runs every task due at `now` (including ones they queue that are due too); returns how many.
    int RunDue(TimePoint now);
    /// The earliest queued time, or TimePoint::max() if none.
    TimePoint Next() const;
    std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::multimap<TimePoint, std::function<void()>> queue_;
};

}  // namespace kyc_bridge::core
