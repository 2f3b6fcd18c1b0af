// SPDX-License-Identifier: Apache-2.0
// HttpAuth0Api's pipeline: token, pacer grant, async request, answer, one repeat after a 401.
#include "kyc_bridge/auth0/management_client.hpp"

#include <algorithm>
#include <cstdlib>

#include "kyc_bridge/core/ids.hpp"
#include "kyc_bridge/core/log_limiter.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "wire.hpp"

namespace kyc_bridge::auth0 {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Tokens without expires_in are taken to live Auth0's default 86,400 s (auth0-facts §2, and
// auth0-java's OAuthTokenSupplier does the same).
constexpr std::int64_t kDefaultExpiresIn = 86400;

std::string TrimSlash(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

bool Is2xx(long status) { return status >= 200 && status < 300; }

http::Options HttpOptions(const ClientSettings& s) {
    http::Options o;
    o.connect_timeout_ms = s.connect_timeout_ms;
    o.request_timeout_ms = s.request_timeout_ms;
    o.allow_insecure_http = s.allow_insecure_http;
    o.ca_file = s.ca_file;
    // Auth0 answers are small (a user, a page of 100 roles): a larger body is refused as
    // "too_large" rather than parsed.
    o.max_response_bytes = 1 << 20;
    o.max_connections = s.max_connections;
    o.http2 = true;  // Auth0 offers h2: many requests share one connection
    return o;
}

}  // namespace

/// POST /oauth/token, client_credentials grant (docs-v2 api/authentication/client-credential-flow/
/// get-token.mdx). Not retried here: the caller's retry policy decides from the error kind.
class OAuthTokenFetcher final : public TokenFetcher {
public:
    explicit OAuthTokenFetcher(HttpAuth0Api& api) : api_(api) {}
    core::Result<Token> FetchToken() override { return api_.FetchToken(); }

private:
    HttpAuth0Api& api_;
};

HttpAuth0Api::HttpAuth0Api(ClientSettings settings, const core::Clock& clock)
    : settings_(std::move(settings)),
      clock_(clock),
      http_(HttpOptions(settings_)),
      fetcher_(std::make_unique<OAuthTokenFetcher>(*this)),
      pacer_(clock, settings_.max_requests_per_second),
      tokens_(*fetcher_, clock, settings_.token_leeway) {
    settings_.base_url = TrimSlash(settings_.base_url);
}

HttpAuth0Api::~HttpAuth0Api() { Shutdown(); }

void HttpAuth0Api::Shutdown() {
    // The HTTP client first: requests the pacer then lets go fail at once ("shutdown_unsent")
    // instead of going out past the budget or a Retry-After.
    http_.Shutdown();
    pacer_.Release();
}

core::Result<Token> HttpAuth0Api::FetchToken() {
    const Call call{ApiKind::kTokenEndpoint, "POST /oauth/token"};
    ++stats_.token_fetches;
    const std::vector<std::pair<std::string, std::string>> fields = {
        {"grant_type", "client_credentials"},
        {"client_id", settings_.client_id},
        {"client_secret", settings_.client_secret},
        {"audience", settings_.audience}};
    // Auth0 takes the form and JSON alike (auth0-facts §2; the SDKs use either). A stand-in may
    // take only one: when the body is refused, the other form is tried once and, if it works,
    // kept for later fetches.
    auto request_as = [&](bool as_json) {
        if (as_json) {
            json body = json::object();
            for (const auto& [name, value] : fields) body[name] = value;
            return http::Request{
                "POST",
                settings_.base_url + "/oauth/token",
                {{"Content-Type", "application/json"}, {"Accept", "application/json"}},
                body.dump()};
        }
        return http::Request{
            "POST",
            settings_.base_url + "/oauth/token",
            {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}},
            wire::FormEncode(fields)};
    };
    const bool as_json = token_body_json_.load();
    auto token = FetchTokenAs(call, request_as, as_json);
    stats_.token_fetch_ok = static_cast<bool>(token);
    if (token) {
        stats_.token_expires_unix = core::ToUnixMillis(token->expires_at) / 1000;
    } else {
        ++stats_.token_fetch_failures;
    }
    return token;
}

core::Result<Token> HttpAuth0Api::FetchTokenAs(
    const Call& call, const std::function<http::Request(bool)>& request_as, bool as_json) {
    auto answer = Send(call, request_as(as_json));
    if (!answer) return answer.error();
    if (answer->status == 400 || answer->status == 401 || answer->status == 403 ||
        answer->status == 415) {
        auto other = Send(call, request_as(!as_json));
        if (other && Is2xx(other->status)) {
            token_body_json_ = !as_json;
            core::Logger("auth0")->info("event=token_body_format format={}",
                                        !as_json ? "json" : "form");
            answer = std::move(other);
        }
    }
    const core::TimePoint now = clock_.Now();
    if (auto error = ClassifyAnswer(call, *answer, now)) return Failed(call, std::move(*error));

    auto body = json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
    auto token = body.is_object() ? body.find("access_token") : body.end();
    if (!body.is_object() || token == body.end() || !token->is_string() || token->empty()) {
        return Failed(call, MalformedAnswer(call, answer->status, "no access_token"));
    }
    std::int64_t expires_in = kDefaultExpiresIn;
    if (auto it = body.find("expires_in"); it != body.end()) {
        // A float beyond int64 converted with get<int64_t> is undefined behaviour: read it as a
        // double and clamp first.
        if (it->is_number_integer()) expires_in = it->get<std::int64_t>();
        else if (it->is_number()) {
            const double seconds = it->get<double>();
            expires_in = seconds >= 0 && seconds < 1e9 ? static_cast<std::int64_t>(seconds)
                                                       : kDefaultExpiresIn;
        }
        if (it->is_string()) expires_in = std::strtoll(it->get<std::string>().c_str(), nullptr, 10);
        // A lifetime of nothing would mean a fetch per request: keep a token at least 30 s
        // (a 401 still drops it early). Nor longer than a year: Auth0 caps M2M tokens at 30 days.
        expires_in = std::clamp<std::int64_t>(expires_in, 30, 365 * 86400);
    }
    return Token{token->get<std::string>(), now + std::chrono::seconds{expires_in}};
}

core::Result<http::Response> HttpAuth0Api::Send(const Call& call, const http::Request& request) {
    ++stats_.requests;
    const auto started = std::chrono::steady_clock::now();
    auto answer = http_.Perform(request);
    Observed(call, answer, started);
    if (!answer) return TransportFailed(call, answer.error());
    return answer;
}

void HttpAuth0Api::StartObserved(const Call& call, http::Request request,
                                 http::ResponseCallback done) {
    ++stats_.requests;
    const auto started = std::chrono::steady_clock::now();
    http_.Start(std::move(request), [this, call, started, done = std::move(done)](
                                        core::Result<http::Response> answer) {
        Observed(call, answer, started);
        done(std::move(answer));
    });
}

void HttpAuth0Api::Observed(const Call& call, const core::Result<http::Response>& answer,
                            std::chrono::steady_clock::time_point started) {
    if (answer && call.api == ApiKind::kManagement) {
        if (auto remaining = ParseRateLimitHeaders(*answer).remaining) {
            stats_.rate_limit_remaining = *remaining;
        }
    }
    if (!observer_) return;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    const std::string code = answer ? std::to_string(answer->status) : "transport_error";
    observer_(RouteName(call.endpoint), code, took.count());
}

std::string_view RouteName(std::string_view endpoint) {
    static const std::pair<std::string_view, std::string_view> kRoutes[] = {
        {"POST /api/v2/users", "create_user"},
        {"GET /api/v2/users/{id}", "get_user"},
        {"GET /api/v2/users-by-email", "users_by_email"},
        {"PATCH /api/v2/users/{id}", "update_user"},
        {"POST /api/v2/users/{id}/roles", "assign_roles"},
        {"POST /api/v2/roles/{id}/users", "assign_role_users"},
        {"POST /dbconnections/change_password", "change_password"},
        {"POST /oauth/token", "token"},
        {"GET /api/v2/roles", "get_roles"},
    };
    for (const auto& [name, route] : kRoutes) {
        if (name == endpoint) return route;
    }
    return "other";
}

core::Error HttpAuth0Api::TransportFailed(const Call& call, const core::Error& transport) {
    ++stats_.transport_errors;
    return Failed(call, ClassifyTransportError(call, transport));
}

core::Error HttpAuth0Api::Failed(const Call& call, core::Error error) {
    if (error.http_status == 429) ++stats_.rate_limited;
    if (error.http_status >= 500) ++stats_.server_errors;
    // A 409 on create is the "user exists" path, not a failure: info, not warning. A
    // configuration failure (TLS, DNS, refused credentials) is the quarantine's to report, once
    // a minute with host and cause: debug here. Repeats (a 429 storm, an outage) are
    // rate-limited per endpoint and code.
    core::LogLimited(
        *core::Logger("auth0"),
        error.kind == core::ErrorKind::kConflict        ? spdlog::level::info
        : error.kind == core::ErrorKind::kConfiguration ? spdlog::level::debug
                                                        : spdlog::level::warn,
        "auth0_call_failed/" + call.endpoint + "/" + error.code,
        "event=auth0_call_failed endpoint=\"{}\" status={} kind={} code={} error=\"{}\"",
        call.endpoint, error.http_status, core::ToString(error.kind), error.code, error.message);
    return error;
}

namespace {

http::Request ManagementRequest(const std::string& url, const std::string& token,
                                const std::optional<json>& body) {
    http::Request request{
        "GET", url, {{"Authorization", "Bearer " + token}, {"Accept", "application/json"}}, {}};
    if (body) {
        request.headers.emplace_back("Content-Type", "application/json");
        request.body = body->dump();
    }
    return request;
}

// Expired or revoked ahead of our clock: only this token is dropped, so concurrent 401s for it
// cause a single new fetch.
void LogRefused(const Call& call) {
    core::Logger("auth0")->info("event=token_refused endpoint=\"{}\" action=refetch",
                                call.endpoint);
}

// A fresh token refused too is the tenant's problem (a rotated signing key, a revoked grant),
// not the customer's: kConfiguration pauses provisioning instead of failing the job.
core::Error SecondUnauthorized(const Call& call, core::Error error) {
    error.kind = core::ErrorKind::kConfiguration;
    error.code = "unauthorized_twice";
    error.message = call.endpoint +
                    " answered 401 twice, the second time with a newly fetched token; "
                    "check the API's token settings (audience, signing) in Auth0";
    return error;
}

}  // namespace

struct HttpAuth0Api::Pending {
    Call call;
    std::string method;
    std::string url;
    BodyMaker make_body;  ///< reset once called: the 401 repeat sends the same body
    std::optional<json> body;
    long also_accept = 0;
    int attempt = 0;
    core::Callback<http::Response> done;

    // A create body holds the user's initial password: it is overwritten, not just freed.
    ~Pending() {
        if (body && body->is_object()) {
            auto password = body->find("password");
            if (password != body->end() && password->is_string()) {
                core::Cleanse(password->get_ref<std::string&>());
            }
        }
    }
};

void HttpAuth0Api::Management(Call call, std::string method, std::string path_and_query,
                              BodyMaker make_body, long also_accept,
                              core::Callback<http::Response> done) {
    auto pending = std::make_shared<Pending>();
    pending->call = std::move(call);
    pending->method = std::move(method);
    pending->url = settings_.base_url + path_and_query;
    pending->make_body = std::move(make_body);
    pending->also_accept = also_accept;
    pending->done = std::move(done);
    WithToken(std::move(pending));
}

void HttpAuth0Api::WithToken(PendingPtr pending) {
    tokens_.Get([this, pending](core::Result<std::string> token) {
        if (!token) return pending->done(token.error());  // logged by FetchToken
        pacer_.Acquire([this, pending, token = std::move(*token)]() mutable {
            Granted(std::move(pending), std::move(token));
        });
    });
}

void HttpAuth0Api::Granted(PendingPtr pending, std::string token) {
    if (pending->make_body) {
        pending->body = pending->make_body();  // now, at the grant: AssignUsersToRole's batch
        pending->make_body = nullptr;
    }
    http::Request request = ManagementRequest(pending->url, token, pending->body);
    request.method = pending->method;
    const Call call = pending->call;
    StartObserved(call, std::move(request),
                  [this, pending = std::move(pending), token](core::Result<http::Response> answer) {
                      Answered(pending, token, std::move(answer));
                  });
}

void HttpAuth0Api::Answered(PendingPtr pending, const std::string& token,
                            core::Result<http::Response> answer) {
    const Call& call = pending->call;
    if (!answer) {
        pacer_.Abandon();
        return pending->done(TransportFailed(call, answer.error()));
    }
    const long status = answer->status;
    if (Is2xx(status) || (pending->also_accept != 0 && status == pending->also_accept)) {
        pacer_.Observe(ParseRateLimitHeaders(*answer));
        return pending->done(std::move(*answer));
    }
    core::Error error = *ClassifyAnswer(call, *answer, clock_.Now());
    // Blocked before the pacer hears of the answer, so that no waiter slips out in between.
    if (status == 429) pacer_.BlockUntil(error.not_before.value_or(clock_.Now() + 1s));
    pacer_.Observe(ParseRateLimitHeaders(*answer));
    if (status == 401 && pending->attempt == 0) {
        tokens_.Invalidate(token);
        LogRefused(call);
        ++pending->attempt;
        return WithToken(std::move(pending));  // non-blocking: a fetch runs on the cache's thread
    }
    if (status == 401) error = SecondUnauthorized(call, std::move(error));
    pending->done(Failed(call, std::move(error)));
}

core::Result<http::Response> HttpAuth0Api::ManagementBlocking(const Call& call,
                                                              const std::string& path) {
    for (int attempt = 0;; ++attempt) {
        auto token = tokens_.Get();  // a failed fetch was logged by FetchToken
        if (!token) return token.error();
        pacer_.Acquire();
        auto answer = Send(call, ManagementRequest(settings_.base_url + path, *token, {}));
        if (!answer) {
            pacer_.Abandon();
            return answer.error();
        }
        pacer_.Observe(ParseRateLimitHeaders(*answer));
        const long status = answer->status;
        if (Is2xx(status)) return answer;
        if (status == 401 && attempt == 0) {
            tokens_.Invalidate(*token);
            LogRefused(call);
            continue;
        }
        core::Error error = *ClassifyAnswer(call, *answer, clock_.Now());
        if (status == 401) error = SecondUnauthorized(call, std::move(error));
        if (status == 429) pacer_.BlockUntil(error.not_before.value_or(clock_.Now() + 1s));
        return Failed(call, std::move(error));
    }
}

}  // namespace kyc_bridge::auth0
