// SPDX-License-Identifier: Apache-2.0
// Private: the libcurl multi handle behind HttpClient and the one thread that drives it.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "curl_handles.hpp"
#include "transfer.hpp"

namespace kyc_bridge::http {

/// Runs transfers on one multi handle (shared connection and DNS caches) from its own thread.
/// Other threads only touch the queue (under a mutex) and curl_multi_wakeup, which libcurl allows
/// from any thread (curl_multi_wakeup(3), 7.68+).
class EventLoop {
public:
    /// Creates the multi handle with `options` and starts the thread.
    /// Throws std::runtime_error when libcurl cannot allocate.
    explicit EventLoop(const Options& options);
    /// Stops first (Stop).
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    /// Hands `transfer` to the loop thread, which completes it. After Stop it is completed at
    /// once on the caller's thread with ShutdownError (there is no loop thread any more).
    /// Thread-safe.
    void Submit(std::unique_ptr<Transfer> transfer);

    /// Completes every queued and running transfer with ShutdownError, then joins the thread.
    /// Idempotent, thread-safe; must not be called on the loop thread (it would join itself).
    void Stop();

    /// Transfers submitted whose callback has not been called yet. Thread-safe.
    std::size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

    /// True on this loop's own thread, i.e. inside one of its callbacks.
    bool OnLoopThread() const;

private:
    void Run() noexcept;
    bool AddQueued();  // false once stopping: then everything queued is completed already
    void CompleteFinished();
    void AbandonRunning();
    void Complete(std::unique_ptr<Transfer> transfer, core::Result<Response> result) noexcept;

    MultiPtr multi_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Transfer>> queue_;  // guarded by mutex_
    bool stopping_ = false;                         // guarded by mutex_
    std::atomic<std::size_t> in_flight_{0};
    std::unordered_map<Transfer*, std::unique_ptr<Transfer>> running_;  // loop thread only
    std::mutex join_mutex_;
    std::thread thread_;  // last: starts once everything it uses exists
};

}  // namespace kyc_bridge::http
