// SPDX-License-Identifier: Apache-2.0
// Auth0Api over non-blocking HTTP: token cache, pacer, one retry after a 401, classified errors.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
    std::string ca_file;  ///< extra trusted CAs (PEM); see http::Options::ca_file
    std::optional<double> max_requests_per_second;  ///< unset: only the tenant's budget paces
    std::chrono::seconds token_leeway = kDefaultTokenLeeway;
    int max_connections = 0;  ///< open HTTP connections at most; 0 = libcurl's default
};

/// Plain counters; the observe module renders them as Prometheus metrics.
struct Auth0Stats {
    std::atomic<std::uint64_t> token_fetches{0};     ///< POST /oauth/token attempts
    std::atomic<std::uint64_t> requests{0};          ///< HTTP requests sent (all endpoints)
    std::atomic<std::uint64_t> rate_limited{0};      ///< 429 answers received
    std::atomic<std::uint64_t> transport_errors{0};  ///< no answer (refused, timeout, TLS, …)
    std::atomic<std::uint64_t> server_errors{0};     ///< 5xx answers
    std::atomic<std::uint64_t> token_fetch_failures{0};  ///< … of token_fetches: no token
    std::atomic<bool> token_fetch_ok{true};    ///< the latest fetch got a token (true before any)
    std::atomic<std::int64_t> token_expires_unix{0};  ///< of the latest token fetched; 0 = none
    std::atomic<std::int64_t> rate_limit_remaining{-1};  ///< x-ratelimit-remaining; -1 = unseen
};

/// Reports one answered (or unanswered) HTTP request: its route name (RouteName), its status
/// code or "transport_error", and how long it took. Runs on the thread that got the answer;
/// must not block.
using RequestObserver =
    std::function<void(std::string_view route, std::string_view code, double seconds)>;

/// The fixed metrics name of an endpoint template: "POST /api/v2/users" → "create_user",
/// "POST /oauth/token" → "token", … ("other" for an unknown one). Never carries an id.
std::string_view RouteName(std::string_view endpoint);

class OAuthTokenFetcher;  // private: POST /oauth/token

/// The production Auth0Api. Every /api/v2 request takes a token from the shared TokenCache and
/// a slot from the shared Pacer; a 401 drops the token, fetches a new one and repeats the call
/// once (a second 401 is kPermanent). /dbconnections/change_password carries no token and is not
/// paced (Authentication API limits are separate, auth0-facts §1).
///
/// The provisioning calls never block: the token comes from TokenCache::Get(callback), the slot
/// from Pacer::Acquire(callback) and the answer from HttpClient::Start, so any number of calls
/// are in flight without a thread each. Callbacks run on the HTTP event loop, the token cache's
/// fetch thread or the pacer's timer thread (or inline, for an error found before any I/O).
/// Thread-safe; never throws after construction. Failed calls are logged (logger "auth0") with
/// endpoint, status and kind, never tokens, secrets or personal data.
class HttpAuth0Api final : public Auth0Api {
public:
    /// `clock` must outlive the object.
    HttpAuth0Api(ClientSettings settings, const core::Clock& clock);
    /// Shutdown(), then waits for the helper threads; every callback has run when it returns.
    ~HttpAuth0Api() override;

    void CreateUser(const NewUser& user, core::Callback<User> done) override;
    void GetUser(const std::string& user_id, core::Callback<std::optional<User>> done) override;
    void GetUsersByEmail(const std::string& email, core::Callback<std::vector<User>> done) override;
    void UpdateUser(const std::string& user_id, const nlohmann::json& patch,
                    core::Callback<void> done) override;
    void AssignRoles(const std::string& user_id, const std::vector<std::string>& role_ids,
                     core::Callback<void> done) override;
    void RemoveRoles(const std::string& user_id, const std::vector<std::string>& role_ids,
                     core::Callback<void> done) override;
    void AssignUsersToRole(const std::string& role_id,
                           std::function<std::vector<std::string>()> take_users,
                           core::Callback<void> done) override;
    void SendPasswordChangeEmail(const std::string& email, const std::string& connection,
                                 const std::string& client_id, core::Callback<void> done) override;
    core::Result<std::vector<Role>> FindRoles(const std::string& name_filter) override;
    core::Status Probe() override;

    /// Releases the pacer and shuts the HTTP client down: calls in flight end with kTransient
    /// "shutdown", later ones fail fast. Idempotent.
    void Shutdown() override;
    /// Releases the pacer only: nothing waits for the budget any more, calls in flight finish.
    void StopWaiting() { pacer_.Release(); }
    /// Starts a token fetch if none is cached (non-blocking; a failed fetch is not repeated
    /// within a second): readiness asks, so an idle daemon whose last fetch failed recovers.
    void RefreshToken() {
        tokens_.Get([](core::Result<std::string>) {});
    }
    const Auth0Stats& stats() const { return stats_; }
    const PacerStats& pacer_stats() const { return pacer_.stats(); }
    /// Call before the first request (not thread-safe against requests in flight).
    void OnRequest(RequestObserver observer) { observer_ = std::move(observer); }

private:
    friend class OAuthTokenFetcher;
    struct Pending;  // one /api/v2 call across token, pacer grant, answer and the 401 repeat
    using PendingPtr = std::shared_ptr<Pending>;
    using BodyMaker = std::function<std::optional<nlohmann::json>()>;

    core::Result<Token> FetchToken();
    /// One fetch with the body as JSON or as a form (and the other form once if refused).
    core::Result<Token> FetchTokenAs(const Call& call,
                                     const std::function<http::Request(bool)>& request_as,
                                     bool as_json);
    /// One /api/v2 request with token, pacing and the 401 repeat. `done` gets the answer if it
    /// is a 2xx or its status is `also_accept` (e.g. 404 for GetUser); otherwise the classified
    /// error. `make_body` is called once, when the pacer first grants the request.
    void Management(Call call, std::string method, std::string path_and_query, BodyMaker make_body,
                    long also_accept, core::Callback<http::Response> done);
    void WithToken(PendingPtr pending);
    void Granted(PendingPtr pending, std::string token);
    void Answered(PendingPtr pending, const std::string& token,
                  core::Result<http::Response> answer);
    /// Blocking Management, for FindRoles and Probe (never from a callback).
    core::Result<http::Response> ManagementBlocking(const Call& call, const std::string& path);
    /// Sends and counts; classifies and logs transport failures.
    core::Result<http::Response> Send(const Call& call, const http::Request& request);
    /// Counts and classifies a transport failure of Start/Perform.
    core::Error TransportFailed(const Call& call, const core::Error& transport);
    core::Error Failed(const Call& call, core::Error error);
    /// The one place every request's answer passes: counts it by route and code, times it
    /// from `started`, and keeps the rate-limit budget left.
    void Observed(const Call& call, const core::Result<http::Response>& answer,
                  std::chrono::steady_clock::time_point started);
    /// http_.Start, observed.
    void StartObserved(const Call& call, http::Request request, http::ResponseCallback done);

    ClientSettings settings_;
    const core::Clock& clock_;
    Auth0Stats stats_;
    RequestObserver observer_;
    std::atomic<bool> token_body_json_{false};  ///< the token endpoint wants JSON, not a form
    // Destroyed in reverse: the token cache's fetch thread, then the pacer's timer thread, may
    // still start requests, so the HTTP client goes last.
    http::HttpClient http_;
    std::unique_ptr<OAuthTokenFetcher> fetcher_;
    Pacer pacer_;
    TokenCache tokens_;
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
