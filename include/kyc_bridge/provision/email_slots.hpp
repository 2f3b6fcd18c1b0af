// SPDX-License-Identifier: Apache-2.0
// A counting semaphore without blocking: at most N password-email calls in flight in the process.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace kyc_bridge::provision {

/// Each holder owns a slot from before its `sending` record until its `sent` record is durable,
/// so a kill -9 finds at most `capacity` jobs whose email call may have succeeded unrecorded.
/// Waiters are served in arrival order. Thread-safe.
class EmailSlots {
public:
    explicit EmailSlots(int capacity);

    /// Calls `granted(true)` when a slot is the caller's (inline if one is free), or
    /// `granted(false)` once Close() was called: shutdown, the job parks.
    void Acquire(std::function<void(bool)> granted);
    /// Gives a slot back; the next waiter gets it (on this thread).
    void Release();
    /// Shutdown: every waiter, and every later Acquire, gets false. Idempotent.
    void Close();

    int in_use() const;
    std::size_t waiting() const;

private:
    mutable std::mutex mutex_;
    const int capacity_;
    int in_use_ = 0;
    bool closed_ = false;
    std::deque<std::function<void(bool)>> waiters_;
};

}  // namespace kyc_bridge::provision
