// SPDX-License-Identifier: Apache-2.0
// A lazy coroutine that returns a value to the coroutine awaiting it: one function per job step.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

namespace kyc_bridge::core {

/// `Task<Status> Step()` is started by `co_await Step()` and resumes its awaiter when it returns
/// (symmetric transfer, so a chain of steps that complete inline does not grow the stack per
/// step). Move-only; awaited exactly once. The body must not throw (std::terminate).
template <typename T>
class [[nodiscard]] Task {
public:
    struct promise_type {
        std::optional<T> value;
        std::coroutine_handle<> continuation;

        Task get_return_object() noexcept {
            return Task(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        struct Resumer {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(
                std::coroutine_handle<promise_type> done) const noexcept {
                auto next = done.promise().continuation;
                return next ? next : std::noop_coroutine();
            }
            void await_resume() const noexcept {}
        };
        Resumer final_suspend() noexcept { return {}; }
        template <typename V>
        void return_value(V&& v) {
            value.emplace(std::forward<V>(v));
        }
        void unhandled_exception() noexcept { std::terminate(); }
    };

    Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    Task& operator=(Task&&) = delete;
    Task(const Task&) = delete;
    ~Task() {
        if (handle_) handle_.destroy();
    }

    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        handle_.promise().continuation = awaiting;
        return handle_;
    }
    T await_resume() { return std::move(*handle_.promise().value); }

private:
    explicit Task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
    std::coroutine_handle<promise_type> handle_;
};

}  // namespace kyc_bridge::core
