// SPDX-License-Identifier: Apache-2.0
// TokenCache: single flight, refresh ahead of expiry, targeted invalidation, failures not cached.
#include "kyc_bridge/auth0/token_cache.hpp"

#include <gtest/gtest.h>

#include <latch>
#include <optional>
#include <thread>
#include <vector>

namespace kyc_bridge::auth0 {
namespace {

using namespace std::chrono_literals;

class FakeFetcher final : public TokenFetcher {
public:
    FakeFetcher(const core::Clock& clock, std::chrono::seconds lifetime)
        : clock_(clock), lifetime_(lifetime) {}

    core::Result<Token> FetchToken() override {
        const int n = ++calls;
        if (delay.count() > 0) std::this_thread::sleep_for(delay);  // real: lets callers pile up
        if (fail_next) {
            fail_next = false;
            return core::Error{core::ErrorKind::kConfiguration, "POST /oauth/token answered 401",
                               "access_denied", 401, std::nullopt};
        }
        return Token{"token-" + std::to_string(n), clock_.Now() + lifetime_};
    }

    std::atomic<int> calls{0};
    std::chrono::milliseconds delay{0};
    std::atomic<bool> fail_next{false};

private:
    const core::Clock& clock_;
    std::chrono::seconds lifetime_;
};

TEST(TokenCache, FetchesOnceForSixteenConcurrentCallers) {
    core::FakeClock clock;
    FakeFetcher fetcher(clock, 86400s);
    fetcher.delay = 100ms;
    TokenCache cache(fetcher, clock);
    std::vector<std::thread> threads;
    std::atomic<int> got{0};
    for (int i = 0; i < 16; ++i) {
        threads.emplace_back([&] {
            auto token = cache.Get();
            if (token && *token == "token-1") ++got;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(fetcher.calls.load(), 1);
    EXPECT_EQ(got.load(), 16);
    EXPECT_EQ(cache.fetches(), 1u);
}

TEST(TokenCache, ServesCachedTokenUntilLeewayBeforeExpiry) {
    core::FakeClock clock;
    FakeFetcher fetcher(clock, 3600s);
    TokenCache cache(fetcher, clock, 60s);
    EXPECT_EQ(*cache.Get(), "token-1");
    clock.Advance(3600s - 60s);  // exactly at expires_at − leeway: still fine
    EXPECT_EQ(*cache.Get(), "token-1");
    clock.Advance(1s);
    EXPECT_EQ(*cache.Get(), "token-2");
    EXPECT_EQ(fetcher.calls.load(), 2);
}

TEST(TokenCache, LeewayIsAtMostHalfTheLifetime) {
    core::FakeClock clock;
    FakeFetcher fetcher(clock, 30s);  // shorter than the 60 s leeway
    TokenCache cache(fetcher, clock, 60s);
    EXPECT_EQ(*cache.Get(), "token-1");
    EXPECT_EQ(*cache.Get(), "token-1");  // not refreshed on every call
    clock.Advance(15s);
    EXPECT_EQ(*cache.Get(), "token-1");
    clock.Advance(1s);
    EXPECT_EQ(*cache.Get(), "token-2");
}

TEST(TokenCache, InvalidateOfAnOldTokenKeepsTheNewOne) {
    core::FakeClock clock;
    FakeFetcher fetcher(clock, 86400s);
    TokenCache cache(fetcher, clock);
    const std::string old_token = *cache.Get();
    cache.Invalidate(old_token);
    EXPECT_EQ(*cache.Get(), "token-2");
    cache.Invalidate(old_token);  // a late 401 for the old token
    EXPECT_EQ(*cache.Get(), "token-2");
    EXPECT_EQ(fetcher.calls.load(), 2);
}

TEST(TokenCache, ManyInvalidationsOfOneTokenCauseOneFetch) {
    core::FakeClock clock;
    FakeFetcher fetcher(clock, 86400s);
    fetcher.delay = 20ms;
    TokenCache cache(fetcher, clock);
    const std::string first = *cache.Get();
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i) {
        threads.emplace_back([&] {
            cache.Invalidate(first);  // each thread saw a 401 with `first`
            EXPECT_EQ(*cache.Get(), "token-2");
        });
    }
    for (auto& t : threads) t.join();
    // Threads that invalidate after token-2 arrived do not drop it.
    EXPECT_EQ(fetcher.calls.load(), 2);
}

TEST(TokenCache, FailedFetchIsReturnedToWaitersAndNotCached) {
    core::FakeClock clock;
    FakeFetcher fetcher(clock, 86400s);
    fetcher.delay = 100ms;
    fetcher.fail_next = true;
    TokenCache cache(fetcher, clock);
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            auto token = cache.Get();
            if (!token && token.error().kind == core::ErrorKind::kConfiguration) ++failed;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(fetcher.calls.load(), 1);
    EXPECT_EQ(failed.load(), 8);
    EXPECT_FALSE(cache.Get().ok()) << "within a second of a failure: no new fetch";
    EXPECT_EQ(fetcher.calls.load(), 1);
    clock.Advance(1000ms);
    EXPECT_EQ(*cache.Get(), "token-2");  // then the next caller fetches again
}

TEST(TokenCache, FailedRefreshServesTheStillValidToken) {
    core::FakeClock clock;
    FakeFetcher fetcher(clock, 3600s);
    TokenCache cache(fetcher, clock, 60s);
    EXPECT_EQ(*cache.Get(), "token-1");
    clock.Advance(3590s);  // inside the leeway, 10 s before expiry
    fetcher.fail_next = true;
    EXPECT_EQ(*cache.Get(), "token-1");
    EXPECT_EQ(*cache.Get(), "token-1");  // not asked again at once
    clock.Advance(1000ms);
    EXPECT_EQ(*cache.Get(), "token-3");  // tried again, and this time it worked
}

TEST(TokenCache, AsyncCallersShareOneFetchAndCachedTokensComeInline) {
    core::FakeClock clock;
    FakeFetcher fetcher(clock, 86400s);
    fetcher.delay = 50ms;
    TokenCache cache(fetcher, clock);
    std::latch done(16);
    std::atomic<int> got{0};
    for (int i = 0; i < 16; ++i) {
        cache.Get([&](core::Result<std::string> token) {
            if (token && *token == "token-1") ++got;
            done.count_down();
        });
    }
    done.wait();
    EXPECT_EQ(got.load(), 16);
    EXPECT_EQ(fetcher.calls.load(), 1);
    bool inline_call = false;
    cache.Get([&](core::Result<std::string> token) { inline_call = token && *token == "token-1"; });
    EXPECT_TRUE(inline_call) << "a cached token is handed over before Get returns";
    EXPECT_EQ(*cache.Get(), "token-1");  // the blocking Get shares the cache
}

TEST(TokenCache, AsyncCallerAfterAFailureGetsItAtOnceWithoutAFetch) {
    core::FakeClock clock;
    FakeFetcher fetcher(clock, 86400s);
    fetcher.fail_next = true;
    TokenCache cache(fetcher, clock);
    EXPECT_FALSE(cache.Get().ok());
    std::optional<core::ErrorKind> kind;
    cache.Get([&](core::Result<std::string> token) {
        if (!token) kind = token.error().kind;
    });
    EXPECT_EQ(kind, core::ErrorKind::kConfiguration);
    EXPECT_EQ(fetcher.calls.load(), 1);
}

}  // namespace
}  // namespace kyc_bridge::auth0
