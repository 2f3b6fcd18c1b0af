// SPDX-License-Identifier: Apache-2.0
// Callbacks for non-blocking I/O, and the C++20 coroutine glue that keeps a job's steps one sequence.
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <utility>

#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::core {

/// Completion of a non-blocking operation. Called exactly once, on whichever thread finished the
/// operation (an HTTP event loop, the store writer, a timer); it must not block that thread.
template <typename T>
using Callback = std::function<void(Result<T>)>;

/// A fire-and-forget coroutine: starts at once, destroys its own frame when it returns.
/// The body must not throw (it is a process-level bug: std::terminate).
struct Detached {
    struct promise_type {
        Detached get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::terminate(); }
    };
};

/// Awaits a callback-style operation: `co_await Await<T>([&](Callback<T> done) { api.Call(..., done); })`.
/// The coroutine resumes on the thread that calls `done` (possibly inside `start` itself).
template <typename T, typename Start>
class CallbackAwaiter {
public:
    explicit CallbackAwaiter(Start start) : start_(std::move(start)) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> handle) {
        // `done` may run on another thread before `start` returns, and resume (and end) the
        // coroutine that owns *this: `start` is moved out first, and nothing of *this is touched
        // after it has been called.
        auto start = std::move(start_);
        start([this, handle](Result<T> result) {
            result_.emplace(std::move(result));
            handle.resume();
        });
    }
    Result<T> await_resume() { return std::move(*result_); }

private:
    Start start_;
    std::optional<Result<T>> result_;
};

template <typename T, typename Start>
CallbackAwaiter<T, Start> Await(Start start) {
    return CallbackAwaiter<T, Start>(std::move(start));
}

}  // namespace kyc_bridge::core
