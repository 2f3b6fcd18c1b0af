// SPDX-License-Identifier: Apache-2.0
// TimerThread and ManualTimers.
#include "kyc_bridge/core/timers.hpp"

namespace kyc_bridge::core {

TimerThread::TimerThread() : thread_([this] { Loop(); }) {}

TimerThread::~TimerThread() { Stop(); }

void TimerThread::At(TimePoint when, std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        queue_.emplace(when, std::move(task));
    }
    cv_.notify_one();
}

void TimerThread::Stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        queue_.clear();
    }
    cv_.notify_one();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void TimerThread::Loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (queue_.empty()) {
            cv_.wait(lock);
            continue;
        }
        auto first = queue_.begin();
        // Wall-clock deadlines (schedules are wall time everywhere in kyc-bridge).
        if (first->first > std::chrono::system_clock::now()) {
            cv_.wait_until(lock, first->first);
            continue;
        }
        auto task = std::move(first->second);
        queue_.erase(first);
        lock.unlock();
        task();
        lock.lock();
    }
}

void ManualTimers::At(TimePoint when, std::function<void()> task) {
    std::lock_guard lock(mutex_);
    queue_.emplace(when, std::move(task));
}

int ManualTimers::RunDue(TimePoint now) {
    int ran = 0;
    while (true) {
        std::function<void()> task;
        {
            std::lock_guard lock(mutex_);
            if (queue_.empty() || queue_.begin()->first > now) return ran;
            task = std::move(queue_.begin()->second);
            queue_.erase(queue_.begin());
        }
        task();
        ++ran;
    }
}

TimePoint ManualTimers::Next() const {
    std::lock_guard lock(mutex_);
    return queue_.empty() ? TimePoint::max() : queue_.begin()->first;
}

std::size_t ManualTimers::size() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

}  // namespace kyc_bridge::core
