// SPDX-License-Identifier: Apache-2.0
// Auth0Api over HTTP: token cache, pacer, one retry after a 401, classified errors.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kyc_bridge/auth0/auth0_api.hpp"
#include "kyc_bridge/auth0/classify.hpp"
#include "kyc_bridge/auth0/pacer.hpp"
#include "kyc_bridge/auth0/token_cache.hpp"
#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/http/http_client.hpp"

namespace kyc_bridge::auth0 {

struct ClientSettings {
    std::string base_url;  ///< https://tenant.eu.auth0.com, or http://127.0.0.1:PORT with
                           ///< allow_insecure_http
    std::string client_id;
    std::string client_secret;  ///< never logged
    std::string audience;       ///< https://tenant.eu.auth0.com/api/v2/
    int connect_timeout_ms = 3000;
    int request_timeout_ms = 10000;
    bool allow_insecure_http = false;
    std::optional<double> max_requests_per_second;  ///< unset: only the tenant's budget paces
    std::chrono::seconds token_leeway = kDefaultTokenLeeway;
};

/// Plain counters; the observe module renders them as Prometheus metrics.
struct Auth0Stats {
    std::atomic<std::uint64_t> token_fetches{0};     ///< POST /oauth/token attempts
    std::atomic<std::uint64_t> requests{0};          ///< HTTP requests sent (all endpoints)
    std::atomic<std::uint64_t> rate_limited{0};      ///< 429 answers received
    std::atomic<std::uint64_t> transport_errors{0};  ///< no answer (refused, timeout, TLS, …)
    std::atomic<std::uint64_t> server_errors{0};     ///< 5xx answers
};

class OAuthTokenFetcher;  // private: POST /oauth/token

/// The production Auth0Api. Every /api/v2 request takes a token from the shared TokenCache and
/// a slot from the shared Pacer; a 401 drops the token, fetches a new one and repeats the call
/// once (a second 401 is kPermanent). /dbconnections/change_password carries no token and is not
/// paced (Authentication API limits are separate, auth0-facts §1).
/// Thread-safe; never throws after construction. Failed calls are logged (logger "auth0") with
/// endpoint, status and kind, never tokens, secrets or personal data.
class HttpAuth0Api final : public Auth0Api {
public:
    /// `clock` must outlive the object.
    HttpAuth0Api(ClientSettings settings, const core::Clock& clock);
    ~HttpAuth0Api() override;

    core::Result<User> CreateUser(const NewUser& user) override;
    core::Result<std::optional<User>> GetUser(const std::string& user_id) override;
    core::Result<std::vector<User>> GetUsersByEmail(const std::string& email) override;
    core::Status UpdateUser(const std::string& user_id, const nlohmann::json& patch) override;
    core::Status AssignRoles(const std::string& user_id,
                             const std::vector<std::string>& role_ids) override;
    core::Status SendPasswordChangeEmail(const std::string& email, const std::string& connection,
                                         const std::string& client_id) override;
    core::Result<std::vector<Role>> FindRoles(const std::string& name_filter) override;
    core::Status Probe() override;

    /// Shutdown: requests stop waiting in the pacer, so workers finish their step in time.
    void StopWaiting() { pacer_.Release(); }
    const Auth0Stats& stats() const { return stats_; }
    const PacerStats& pacer_stats() const { return pacer_.stats(); }

private:
    friend class OAuthTokenFetcher;
    core::Result<Token> FetchToken();
    /// One /api/v2 request with token, pacing and the 401 repeat. Returns the answer if it is a
    /// 2xx or its status is `also_accept` (e.g. 404 for GetUser); otherwise the classified error.
    core::Result<http::Response> Management(const Call& call, const std::string& method,
                                            const std::string& path_and_query,
                                            const std::optional<nlohmann::json>& body,
                                            long also_accept = 0);
    /// Sends and counts; classifies and logs transport failures.
    core::Result<http::Response> Send(const Call& call, const http::Request& request);
    core::Error Failed(const Call& call, core::Error error);

    ClientSettings settings_;
    const core::Clock& clock_;
    Auth0Stats stats_;
    std::atomic<bool> token_body_json_{false};  ///< the token endpoint wants JSON, not a form
    http::HttpClient http_;
    std::unique_ptr<OAuthTokenFetcher> fetcher_;
    TokenCache tokens_;
    Pacer pacer_;
};

/// Role names → role ids, in the same order: GET /api/v2/roles?name_filter= for each name, then
/// an exact, case-sensitive match on the client side (the filter is case-insensitive and not
/// documented as exact, auth0-facts §5). A missing role → kConfiguration, code "role_not_found",
/// naming the role. Other errors as the API returned them.
core::Result<std::vector<std::string>> ResolveRoleIds(Auth0Api& api,
                                                      const std::vector<std::string>& role_names);

/// RFC 3986 percent-encoding of everything but unreserved characters ("auth0|x" → "auth0%7Cx").
std::string PercentEncode(std::string_view text);

}  // namespace kyc_bridge::auth0
