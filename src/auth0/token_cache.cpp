// SPDX-License-Identifier: Apache-2.0
// Single-flight token cache: one fetch at a time; blocking and async waiters share its result.
#include "kyc_bridge/auth0/token_cache.hpp"

#include <algorithm>
#include <exception>
#include <utility>

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

TokenCache::~TokenCache() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_fetcher_.notify_all();
    if (fetch_thread_.joinable()) fetch_thread_.join();
    // A fetch that never ran: its waiters are still owed their one call.
    std::vector<core::Callback<std::string>> waiters;
    {
        std::lock_guard lock(mutex_);
        waiters.swap(waiters_);
    }
    for (auto& done : waiters) {
        done(core::Error::Transient("token cache stopped before the fetch", "shutdown"));
    }
}

std::optional<core::Result<std::string>> TokenCache::ServeLocked(core::TimePoint now) const {
    if (cached_ && now <= cached_->refresh_at) return cached_->access_token;
    if (!fetching_ && last_error_ && now < no_fetch_until_) {
        if (cached_ && now < cached_->expires_at) return cached_->access_token;
        return *last_error_;
    }
    return std::nullopt;
}

core::Result<std::string> TokenCache::Get() {
    std::unique_lock lock(mutex_);
    if (auto served = ServeLocked(clock_.Now())) return std::move(*served);
    if (!fetching_) return FetchLocked(lock);

    const std::uint64_t waiting_for = generation_;
    fetched_.wait(lock, [&] { return generation_ != waiting_for; });
    return AfterFetchLocked();
}

void TokenCache::Get(core::Callback<std::string> done) {
    std::unique_lock lock(mutex_);
    if (auto served = ServeLocked(clock_.Now())) {
        lock.unlock();
        done(std::move(*served));
        return;
    }
    if (stopping_) {
        lock.unlock();
        done(core::Error::Transient("token cache is stopping", "shutdown"));
        return;
    }
    waiters_.push_back(std::move(done));
    if (fetching_) return;  // a blocking caller's fetch or ours: it serves waiters_ too
    fetching_ = true;
    fetch_requested_ = true;
    if (!fetch_thread_.joinable()) fetch_thread_ = std::thread([this] { FetchLoop(); });
    lock.unlock();
    wake_fetcher_.notify_one();
}

void TokenCache::FetchLoop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_fetcher_.wait(lock, [&] { return fetch_requested_ || stopping_; });
        if (stopping_) return;
        fetch_requested_ = false;
        // The same fetch as a blocking caller's: waiters get its outcome (they may call Get
        // again, which queues a new fetch).
        (void)FetchLocked(lock);
        if (!lock.owns_lock()) lock.lock();
    }
}

core::Result<std::string> TokenCache::AfterFetchLocked() const {
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
    core::Result<std::string> result = CompleteLocked(std::move(fetched), now);
    std::vector<core::Callback<std::string>> waiters;
    waiters.swap(waiters_);
    if (waiters.empty()) return result;
    const core::Result<std::string> for_waiters = AfterFetchLocked();
    lock.unlock();
    for (auto& done : waiters) done(for_waiters);
    return result;
}

core::Result<std::string> TokenCache::CompleteLocked(core::Result<Token> fetched,
                                                     core::TimePoint now) {
    fetching_ = false;
    ++generation_;
    fetched_.notify_all();
    if (fetched) {
        const auto lifetime = std::max<core::TimePoint::duration>(fetched->expires_at - now, {});
        const auto leeway = std::min<core::TimePoint::duration>(leeway_, lifetime / 2);
        cached_ = Cached{fetched->access_token, fetched->expires_at - leeway, fetched->expires_at};
        last_error_.reset();
        return fetched->access_token;
    }
    last_error_ = fetched.error();
    no_fetch_until_ = std::max(fetched.error().not_before.value_or(core::TimePoint{}),
                               now + std::chrono::seconds{1});
    if (cached_ && now >= cached_->expires_at) cached_.reset();
    if (cached_ && now < cached_->expires_at) return cached_->access_token;  // still valid
    return fetched.error();
}

void TokenCache::Invalidate(const std::string& token) {
    std::lock_guard lock(mutex_);
    if (cached_ && cached_->access_token == token) cached_.reset();
}

}  // namespace kyc_bridge::auth0
