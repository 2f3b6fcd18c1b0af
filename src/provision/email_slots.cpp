// SPDX-License-Identifier: Apache-2.0
// EmailSlots: grants and hand-overs happen outside the lock (a grant runs the job's next step).
#include "kyc_bridge/provision/email_slots.hpp"

#include <cassert>
#include <utility>

namespace kyc_bridge::provision {

EmailSlots::EmailSlots(int capacity) : capacity_(capacity) { assert(capacity >= 1); }

void EmailSlots::Acquire(std::function<void(bool)> granted) {
    bool now = false;
    bool closed = false;
    {
        std::lock_guard lock(mutex_);
        if (closed_) {
            closed = true;
        } else if (in_use_ < capacity_) {
            ++in_use_;
            now = true;
        } else {
            waiters_.push_back(std::move(granted));
        }
    }
    if (closed) granted(false);
    if (now) granted(true);
}

void EmailSlots::Release() {
    std::function<void(bool)> next;
    {
        std::lock_guard lock(mutex_);
        assert(in_use_ > 0);
        if (!closed_ && !waiters_.empty()) {
            next = std::move(waiters_.front());  // the slot passes on: in_use_ stays
            waiters_.pop_front();
        } else {
            --in_use_;
        }
    }
    if (next) next(true);
}

void EmailSlots::Close() {
    std::deque<std::function<void(bool)>> waiters;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        waiters.swap(waiters_);
    }
    for (auto& waiter : waiters) waiter(false);
}

int EmailSlots::in_use() const {
    std::lock_guard lock(mutex_);
    return in_use_;
}

std::size_t EmailSlots::waiting() const {
    std::lock_guard lock(mutex_);
    return waiters_.size();
}

}  // namespace kyc_bridge::provision
