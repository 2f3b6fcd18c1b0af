// SPDX-License-Identifier: Apache-2.0
// Full-jitter exponential backoff ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015),
// capped, honouring the server's Retry-After / x-ratelimit-reset.
#include "kyc_bridge/provision/retry_policy.hpp"

#include <algorithm>

namespace kyc_bridge::provision {

using core::ErrorKind;

RetryPolicy::RetryPolicy(RetrySettings settings, std::uint64_t seed)
    : settings_(settings), rng_(seed) {}

std::chrono::milliseconds RetryPolicy::BackoffCeiling(int attempts) const {
    auto exponent = std::clamp(attempts - 1, 0, 30);
    auto ceiling = settings_.initial_backoff.count() * (std::int64_t{1} << exponent);
    return std::chrono::milliseconds{std::min<std::int64_t>(ceiling, settings_.max_backoff.count())};
}

RetryDecision RetryPolicy::Decide(const core::Error& error, int attempts,
                                  core::TimePoint created_at, core::TimePoint now) {
    switch (error.kind) {
        case ErrorKind::kPermanent:
            return {false, {}, error.code.empty() ? "permanent" : error.code};
        case ErrorKind::kConflict:
            if (attempts >= settings_.conflict_max_attempts) {
                return {false, {}, "conflict_unresolved"};
            }
            break;
        case ErrorKind::kRateLimited:
            break;  // a budget, not an error: only retry.max_age_s bounds it
        case ErrorKind::kTransient:
        case ErrorKind::kUnauthorized:
        case ErrorKind::kConfiguration:
            if (attempts >= settings_.max_attempts) return {false, {}, "max_attempts_exhausted"};
            break;
    }
    if (now - created_at >= settings_.max_age) return {false, {}, "max_age_exceeded"};

    auto ceiling = BackoffCeiling(attempts);
    std::int64_t delay_ms;
    {
        std::lock_guard lock(rng_mutex_);
        delay_ms = std::uniform_int_distribution<std::int64_t>(0, ceiling.count())(rng_);
    }
    if (error.kind == ErrorKind::kConflict) {
        delay_ms = std::max<std::int64_t>(delay_ms, settings_.conflict_min_backoff.count());
    }
    auto next = now + std::chrono::milliseconds{delay_ms};
    if (error.not_before && *error.not_before > next) next = *error.not_before;
    return {true, next, {}};
}

}  // namespace kyc_bridge::provision
