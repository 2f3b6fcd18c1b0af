// SPDX-License-Identifier: Apache-2.0
// Classified failures at I/O edges and a small result type that carries them.
#pragma once

#include <cassert>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kyc_bridge::core {

using TimePoint = std::chrono::system_clock::time_point;

/// What kind of failure an Auth0, HTTP, Kafka or store call hit. The retry policy decides from
/// the kind alone, and the kind is the metrics label (`ToString`).
enum class ErrorKind {
    kTransient,      ///< connection refused/reset, timeout, 5xx, malformed 2xx body: retry later
    kRateLimited,    ///< 429: retry, never before Error::not_before
    kUnauthorized,   ///< 401 from the Management API: drop the token, fetch again once
    kConfiguration,  ///< credentials refused or scope missing: pause everything, not the job's fault
    kPermanent,      ///< 400, 404 role, exhausted attempts: the job fails, kept for replay
    kConflict,       ///< 409 that could not be resolved (yet): a few spaced retries, then failed
};

/// Stable lower-case name of a kind: "transient", "rate_limited", "unauthorized",
/// "configuration", "permanent", "conflict".
std::string_view ToString(ErrorKind kind);

/// A failure with its class and a message that says what and why. Messages never carry
/// personal data (email, names, phone), tokens or secrets.
struct Error {
    ErrorKind kind = ErrorKind::kTransient;
    std::string message;
    std::string code;                   ///< Auth0 `errorCode`/`error`, or a short reason slug
    int http_status = 0;                ///< 0 when no HTTP answer was received
    std::optional<TimePoint> not_before;  ///< from Retry-After or x-ratelimit-reset

    static Error Transient(std::string message, std::string code = {});
    static Error Permanent(std::string message, std::string code = {});
};

/// Either a value or an Error. `Try…` functions return it and never throw.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
    Result(Error error) : state_(std::move(error)) {}     // NOLINT(google-explicit-constructor)

    bool ok() const { return std::holds_alternative<T>(state_); }
    explicit operator bool() const { return ok(); }

    T& value() & { assert(ok()); return std::get<T>(state_); }
    const T& value() const& { assert(ok()); return std::get<T>(state_); }
    T&& value() && { assert(ok()); return std::get<T>(std::move(state_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { assert(!ok()); return std::get<Error>(state_); }

private:
    std::variant<T, Error> state_;
};

/// A Result with no value: success or an Error.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool ok() const { return !error_.has_value(); }
    explicit operator bool() const { return ok(); }
    const Error& error() const { assert(!ok()); return *error_; }

private:
    std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace kyc_bridge::core
