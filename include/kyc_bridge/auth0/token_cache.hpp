// SPDX-License-Identifier: Apache-2.0
// The Management API access token: fetched once, shared by every thread, refreshed ahead of expiry.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kyc_bridge/core/async.hpp"
#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::auth0 {

struct Token {
    std::string access_token;
    core::TimePoint expires_at;
};

/// Gets a new token (POST /oauth/token in production). Called by one thread at a time; it may
/// block (it runs on the caller of the blocking Get, or on the cache's own fetch thread).
class TokenFetcher {
public:
    virtual ~TokenFetcher() = default;
    virtual core::Result<Token> FetchToken() = 0;
};

/// Why 60 s: Auth0 Management API tokens live 86,400 s by default (auth0-facts §2), so refreshing
/// a minute early costs nothing, while it covers a request that waits in the pacer or in a slow
/// network (request timeout 10 s) with the token in hand. The SDKs use 10 s (node, go, python)
/// to 120 s (java) (auth0-facts §8); 10 s is shorter than our own request timeout.
inline constexpr std::chrono::seconds kDefaultTokenLeeway{60};

/// Caches one token for many threads. Thread-safe.
///  - Get(): the cached token while now <= expires_at − leeway; otherwise one thread fetches and
///    callers that arrive meanwhile wait for that fetch's result. The leeway is capped at half
///    the token's lifetime, so a short-lived token is not refreshed on every call.
///  - A failed fetch is returned to the fetching thread and all its waiters and is not cached:
///    the next Get fetches again. While the previous token has not yet actually expired, callers
///    get that token instead of the error (a refresh that fails ahead of expiry costs nothing).
///  - Invalidate(t) drops the cached token only if it is still t, so many concurrent 401s for
///    the same token cause a single new fetch.
///  - Blocking and non-blocking callers share the same single flight.
class TokenCache {
public:
    TokenCache(TokenFetcher& fetcher, const core::Clock& clock,
               std::chrono::seconds leeway = kDefaultTokenLeeway);
    /// Joins the fetch thread; non-blocking callers still waiting get a kTransient error.
    ~TokenCache();
    TokenCache(const TokenCache&) = delete;
    TokenCache& operator=(const TokenCache&) = delete;

    /// Blocks until the access token is known; returns it, or the fetch's error (kind as the
    /// fetcher classified it). Must not be called from an I/O callback.
    core::Result<std::string> Get();
    /// Non-blocking Get: `done` runs at once (inline) with a cached token or a recent failure;
    /// otherwise it joins the waiters of the running fetch, starting one on the cache's fetch
    /// thread if none runs, and runs there when it ends (a token fetch is about once a day, so
    /// one thread blocking on it costs nothing). `done` must not block the fetch thread.
    void Get(core::Callback<std::string> done);
    void Invalidate(const std::string& token);
    /// Fetches attempted so far (successful or not).
    std::uint64_t fetches() const { return fetches_.load(); }

private:
    struct Cached {
        std::string access_token;
        core::TimePoint refresh_at;
        core::TimePoint expires_at;
    };
    /// The answer without a fetch, if there is one (lock held).
    std::optional<core::Result<std::string>> ServeLocked(core::TimePoint now) const;
    core::Result<std::string> FetchLocked(std::unique_lock<std::mutex>& lock);
    /// Records a fetch's outcome (lock held); returns what its caller gets.
    core::Result<std::string> CompleteLocked(core::Result<Token> fetched, core::TimePoint now);
    /// What waiters of a completed fetch get (lock held).
    core::Result<std::string> AfterFetchLocked() const;
    void FetchLoop();

    TokenFetcher& fetcher_;
    const core::Clock& clock_;
    const std::chrono::seconds leeway_;
    std::mutex mutex_;
    std::condition_variable fetched_;
    std::optional<Cached> cached_;
    bool fetching_ = false;
    std::uint64_t generation_ = 0;           ///< completed fetches
    std::optional<core::Error> last_error_;  ///< of the latest completed fetch
    /// After a failed fetch, callers get last_error_ until then instead of fetching again:
    /// an endpoint that answers 429 or 5xx is not asked once per job.
    core::TimePoint no_fetch_until_{};
    std::atomic<std::uint64_t> fetches_{0};
    std::vector<core::Callback<std::string>> waiters_;  ///< non-blocking callers of this fetch
    bool fetch_requested_ = false;                      ///< the fetch thread should fetch
    bool stopping_ = false;
    std::condition_variable wake_fetcher_;
    std::thread fetch_thread_;  ///< started by the first non-blocking fetch
};

}  // namespace kyc_bridge::auth0
