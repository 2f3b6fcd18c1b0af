// SPDX-License-Identifier: Apache-2.0
// The one place that turns an Auth0 answer or a transport failure into a classified core::Error.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kyc_bridge/core/error.hpp"
#include "kyc_bridge/http/http_client.hpp"

namespace kyc_bridge::auth0 {

/// Which Auth0 API answered: they differ in error bodies and in what 401/403 mean.
enum class ApiKind {
    kManagement,      ///< /api/v2/…: body {statusCode,error,message,errorCode}
    kTokenEndpoint,   ///< POST /oauth/token: body {error,error_description}
    kAuthentication,  ///< other Authentication API calls (/dbconnections/…)
};

/// One call as it appears in messages and logs: the endpoint is a template such as
/// "POST /api/v2/users/{id}", never a concrete id, email or query value.
struct Call {
    ApiKind api = ApiKind::kManagement;
    std::string endpoint;
};

/// Rate-limit headers of one answer (auth0-facts §1, docs-v2 rate-limit-use-cases.mdx).
struct RateLimitHeaders {
    std::optional<std::int64_t> limit;       ///< x-ratelimit-limit: bucket size
    std::optional<std::int64_t> remaining;   ///< x-ratelimit-remaining
    std::optional<std::int64_t> reset_unix;  ///< x-ratelimit-reset: UNIX seconds
    bool Present() const { return remaining.has_value() && reset_unix.has_value(); }
};

RateLimitHeaders ParseRateLimitHeaders(const http::Response& response);
/// x-ratelimit-reset as UNIX seconds: milliseconds and small delays are converted.
std::optional<std::int64_t> NormalizeResetSeconds(std::optional<std::int64_t> raw,
                                                  std::int64_t now_unix);
/// The longest wait a Retry-After or reset can impose on a job.
inline constexpr std::chrono::hours kMaxRetryAfter{1};

/// When a 429 may be retried: Retry-After (delta seconds or HTTP date) first, then
/// x-ratelimit-reset — the order every official SDK uses (auth0-facts §8). nullopt if neither.
std::optional<core::TimePoint> RetryNotBefore(const http::Response& response, core::TimePoint now);

/// nullopt for a 2xx answer; otherwise the error, by status:
///   408, 5xx → kTransient; 429 → kRateLimited (not_before from RetryNotBefore);
///   401 → kUnauthorized (Management API) or kConfiguration (token endpoint, other Auth API);
///   403 → kConfiguration (missing scope, no client grant); 409 → kConflict;
///   other 4xx → kPermanent with Auth0's message and errorCode, except on the token
///   endpoint, where any 4xx can only come from our settings → kConfiguration.
/// Other statuses (1xx, 3xx) → kTransient. Never throws.
std::optional<core::Error> ClassifyAnswer(const Call& call, const http::Response& response,
                                          core::TimePoint now);

/// A transport failure from HttpClient, re-worded to name the endpoint; the kind is kept.
core::Error ClassifyTransportError(const Call& call, const core::Error& transport);

/// A 2xx whose body is not the JSON expected: kTransient (Auth0 or a proxy answered garbage).
core::Error MalformedAnswer(const Call& call, long status, std::string_view what);

/// Removes personal data Auth0 may echo in messages (email addresses; the value in
/// "format email: …"), and caps the length.
std::string ScrubAuth0Message(std::string_view message);

}  // namespace kyc_bridge::auth0
