// SPDX-License-Identifier: Apache-2.0
// Single-flight token cache: one fetch at a time, waiters share its result.
#include "kyc_bridge/auth0/token_cache.hpp"

#include <algorithm>
#include <exception>

namespace kyc_bridge::auth0 {
namespace {

// A throwing fetcher would leave fetching_ set and every caller waiting forever.
core::Result<Token> FetchNoThrow(TokenFetcher& fetcher) {
    try {
        return fetcher.FetchToken();
    } catch (const std::exception& e) {
        return core::Error::Transient(std::string("token fetch threw: ") + e.what(), "token_fetch");
    }
}

}  // namespace

TokenCache::TokenCache(TokenFetcher& fetcher, const core::Clock& clock, std::chrono::seconds leeway)
    : fetcher_(fetcher), clock_(clock), leeway_(leeway) {}

core::Result<std::string> TokenCache::Get() {
    std::unique_lock lock(mutex_);
    const core::TimePoint now = clock_.Now();
    if (cached_ && now <= cached_->refresh_at) return cached_->access_token;
    if (!fetching_ && last_error_ && now < no_fetch_until_) {
        if (cached_ && now < cached_->expires_at) return cached_->access_token;
        return *last_error_;
    }
    if (!fetching_) return FetchLocked(lock);

    const std::uint64_t waiting_for = generation_;
    fetched_.wait(lock, [&] { return generation_ != waiting_for; });
    if (cached_ && clock_.Now() < cached_->expires_at) return cached_->access_token;
    if (last_error_) return *last_error_;
    return core::Error::Transient("token fetch finished without a usable token; will retry",
                                  "token_unavailable");
}

core::Result<std::string> TokenCache::FetchLocked(std::unique_lock<std::mutex>& lock) {
    fetching_ = true;
    lock.unlock();
    ++fetches_;
    core::Result<Token> fetched = FetchNoThrow(fetcher_);  // without the lock: it does I/O
    const core::TimePoint now = clock_.Now();
    lock.lock();

    fetching_ = false;
    ++generation_;
    if (fetched) {
        const auto lifetime = std::max<core::TimePoint::duration>(fetched->expires_at - now, {});
        const auto leeway = std::min<core::TimePoint::duration>(leeway_, lifetime / 2);
        cached_ = Cached{fetched->access_token, fetched->expires_at - leeway, fetched->expires_at};
        last_error_.reset();
        fetched_.notify_all();
        return fetched->access_token;
    }
    last_error_ = fetched.error();
    no_fetch_until_ = std::max(fetched.error().not_before.value_or(core::TimePoint{}),
                               now + std::chrono::seconds{1});
    if (cached_ && now >= cached_->expires_at) cached_.reset();
    fetched_.notify_all();
    if (cached_ && now < cached_->expires_at) return cached_->access_token;  // still valid
    return fetched.error();
}

void TokenCache::Invalidate(const std::string& token) {
    std::lock_guard lock(mutex_);
    if (cached_ && cached_->access_token == token) cached_.reset();
}

}  // namespace kyc_bridge::auth0
