// SPDX-License-Identifier: Apache-2.0
// When a failed job attempt is tried again, decided from the error kind alone.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <random>

#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::provision {

struct RetrySettings {
    std::chrono::milliseconds initial_backoff{200};
    std::chrono::milliseconds max_backoff{60000};
    int max_attempts = 12;
    std::chrono::seconds max_age{86400};
    int conflict_max_attempts = 4;
    /// Unresolved 409s are spaced at least this far apart: Auth0 needs time to settle.
    std::chrono::milliseconds conflict_min_backoff{1000};
};

/// The verdict on one failed attempt.
struct RetryDecision {
    bool retry = false;
    core::TimePoint next_attempt_at;  ///< when retry is true
    std::string reason;               ///< when retry is false: why the job fails for good
};

/// Exponential backoff with full jitter (delay drawn uniformly from [0, min(cap, base·2^n)]),
/// never before an Error::not_before (Retry-After / x-ratelimit-reset). Thread-safe.
class RetryPolicy {
public:
    explicit RetryPolicy(RetrySettings settings, std::uint64_t seed = std::random_device{}());

    /// `attempts` counts failed attempts including this one; `created_at` is the job's birth.
    RetryDecision Decide(const core::Error& error, int attempts, core::TimePoint created_at,
                         core::TimePoint now);

    /// The upper bound of the jittered delay after `attempts` failures.
    std::chrono::milliseconds BackoffCeiling(int attempts) const;

    const RetrySettings& settings() const { return settings_; }

private:
    RetrySettings settings_;
    std::mutex rng_mutex_;
    std::mt19937_64 rng_;
};

}  // namespace kyc_bridge::provision
