// SPDX-License-Identifier: Apache-2.0
// The blocking Management API client of `tenant plan|apply`: the daemon's token cache, pacer and
// classification, with retries decided by the error kind alone.
#include <algorithm>
#include <cstdlib>
#include <random>

#include "kyc_bridge/auth0/classify.hpp"
#include "kyc_bridge/auth0/pacer.hpp"
#include "kyc_bridge/auth0/token_cache.hpp"
#include "kyc_bridge/http/http_client.hpp"
#include "kyc_bridge/tenant/tenant.hpp"

namespace kyc_bridge::tenant {

namespace {

using nlohmann::json;
using std::chrono::milliseconds;

/// Tokens without expires_in live Auth0's default 86,400 s; under 30 s counts as 30 s (as the
/// daemon's fetcher, src/auth0/management_client.cpp).
constexpr std::int64_t kDefaultExpiresIn = 86400;
constexpr milliseconds kInitialBackoff{200};
constexpr milliseconds kMaxBackoff{10000};
/// The longest one request waits for 429s in all (each wait is capped at auth0::kMaxPacerWait).
constexpr std::chrono::minutes kMaxRateLimitedWait{10};

json ParseBody(const std::string& body) {
    if (body.empty()) return nullptr;
    return json::parse(body, nullptr, /*allow_exceptions=*/false);
}

/// POST /oauth/token with the client credentials grant, JSON body (auth0-facts §2).
class TokenEndpoint final : public auth0::TokenFetcher {
public:
    TokenEndpoint(http::HttpClient& http, const ApiSettings& settings, const core::Clock& clock)
        : http_(http), settings_(settings), clock_(clock) {}

    core::Result<auth0::Token> FetchToken() override {
        const auth0::Call call{auth0::ApiKind::kTokenEndpoint, "POST /oauth/token"};
        const json body = {{"grant_type", "client_credentials"},
                           {"client_id", settings_.client_id},
                           {"client_secret", settings_.client_secret},
                           {"audience", settings_.audience}};
        auto answer =
            http_.Perform({"POST",
                           settings_.base_url + "/oauth/token",
                           {{"Content-Type", "application/json"}, {"Accept", "application/json"}},
                           body.dump()});
        if (!answer) return auth0::ClassifyTransportError(call, answer.error());
        const auto now = clock_.Now();
        if (auto error = auth0::ClassifyAnswer(call, *answer, now)) return *error;
        const auto parsed = ParseBody(answer->body);
        if (!parsed.is_object() || !parsed.contains("access_token") ||
            !parsed["access_token"].is_string()) {
            return auth0::MalformedAnswer(call, answer->status, "no access_token");
        }
        std::int64_t expires_in = kDefaultExpiresIn;
        if (parsed.contains("expires_in") && parsed["expires_in"].is_number_integer())
            expires_in = std::max<std::int64_t>(parsed["expires_in"].get<std::int64_t>(), 30);
        return auth0::Token{parsed["access_token"].get<std::string>(),
                            now + std::chrono::seconds{expires_in}};
    }

private:
    http::HttpClient& http_;
    const ApiSettings& settings_;
    const core::Clock& clock_;
};

http::Options HttpOptions(const ApiSettings& s) {
    http::Options options;
    options.connect_timeout_ms = s.connect_timeout_ms;
    options.request_timeout_ms = s.request_timeout_ms;
    options.allow_insecure_http = s.allow_insecure_http;
    options.ca_file = s.ca_file;
    options.max_connections = 1;
    return options;
}

class HttpManagementApi final : public ManagementApi {
public:
    HttpManagementApi(ApiSettings settings, const core::Clock& clock)
        : settings_(std::move(settings)),
          clock_(clock),
          http_(HttpOptions(settings_)),
          fetcher_(http_, settings_, clock_),
          pacer_(clock_, settings_.max_requests_per_second),
          tokens_(fetcher_, clock_),
          random_(std::random_device{}()) {}

    core::Result<json> Call(const std::string& method, const std::string& endpoint,
                            const std::string& path, const std::optional<json>& body) override {
        const auth0::Call call{auth0::ApiKind::kManagement, endpoint};
        int attempts = 0;
        bool token_refreshed = false;
        const auto give_up_waiting_at = clock_.Now() + kMaxRateLimitedWait;
        for (;;) {
            auto token = tokens_.Get();
            if (!token) {
                if (!Retryable(token.error(), attempts, give_up_waiting_at)) return token.error();
                // The cache refuses a new fetch for a second after a failure.
                Wait(token.error(), attempts, milliseconds{1000});
                continue;
            }
            auto answer = Send(call, method, path, body, *token);
            if (answer) return std::move(*answer);
            const auto& error = answer.error();
            if (error.kind == core::ErrorKind::kUnauthorized && !token_refreshed) {
                tokens_.Invalidate(*token);  // expired or revoked: one fresh token, one repeat
                token_refreshed = true;
                continue;
            }
            if (error.kind == core::ErrorKind::kUnauthorized) {
                auto permanent = error;  // a fresh token refused too (as the daemon: permanent)
                permanent.kind = core::ErrorKind::kPermanent;
                return permanent;
            }
            if (!Retryable(error, attempts, give_up_waiting_at)) return error;
            if (error.kind == core::ErrorKind::kRateLimited) {
                pacer_.BlockUntil(error.not_before.value_or(clock_.Now() + milliseconds{1000}));
            }
            Wait(error, attempts, milliseconds{0});
        }
    }

private:
    /// One request through the pacer: the parsed 2xx body, or the classified error.
    core::Result<json> Send(const auth0::Call& call, const std::string& method,
                            const std::string& path, const std::optional<json>& body,
                            const std::string& token) {
        http::Request request{
            method,
            settings_.base_url + path,
            {{"Authorization", "Bearer " + token}, {"Accept", "application/json"}},
            ""};
        if (body) {
            request.headers.emplace_back("Content-Type", "application/json");
            request.body = body->dump();
        }
        pacer_.Acquire();
        auto answer = http_.Perform(request);
        if (!answer) {
            pacer_.Abandon();
            return auth0::ClassifyTransportError(call, answer.error());
        }
        pacer_.Observe(auth0::ParseRateLimitHeaders(*answer));
        if (auto error = auth0::ClassifyAnswer(call, *answer, clock_.Now())) return *error;
        auto parsed = ParseBody(answer->body);
        if (parsed.is_discarded()) return auth0::MalformedAnswer(call, answer->status, "not JSON");
        return parsed;
    }

    /// 429s spend no attempt (only the total wait bounds them); transient failures do.
    bool Retryable(const core::Error& error, int& attempts, core::TimePoint give_up_at) const {
        if (error.kind == core::ErrorKind::kRateLimited) return clock_.Now() < give_up_at;
        if (error.kind != core::ErrorKind::kTransient) return false;
        return ++attempts < settings_.max_attempts;
    }

    /// Until the error's not_before (capped), else exponential backoff with full jitter.
    void Wait(const core::Error& error, int attempts, milliseconds at_least) {
        const auto now = clock_.Now();
        if (error.not_before) {
            clock_.SleepUntil(std::min(*error.not_before, now + auth0::kMaxPacerWait));
            return;
        }
        const milliseconds ceiling =
            std::min(kMaxBackoff, milliseconds{kInitialBackoff.count() << std::min(attempts, 10)});
        std::uniform_int_distribution<milliseconds::rep> jitter(0, ceiling.count());
        clock_.SleepUntil(now + std::max(at_least, milliseconds{jitter(random_)}));
    }

    ApiSettings settings_;
    const core::Clock& clock_;
    http::HttpClient http_;
    TokenEndpoint fetcher_;
    auth0::Pacer pacer_;
    auth0::TokenCache tokens_;
    std::mt19937_64 random_;
};

}  // namespace

std::unique_ptr<ManagementApi> ConnectManagementApi(ApiSettings settings,
                                                    const core::Clock& clock) {
    return std::make_unique<HttpManagementApi>(std::move(settings), clock);
}

}  // namespace kyc_bridge::tenant
