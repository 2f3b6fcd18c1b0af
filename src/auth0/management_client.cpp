// SPDX-License-Identifier: Apache-2.0
// HttpAuth0Api: Management API calls with token, pacing and one repeat after a 401.
#include "kyc_bridge/auth0/management_client.hpp"

#include <algorithm>
#include <cstdlib>

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
    return o;
}

core::Status Done(const core::Result<http::Response>& answer) {
    if (!answer) return answer.error();
    return {};
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
      tokens_(*fetcher_, clock, settings_.token_leeway),
      pacer_(clock, settings_.max_requests_per_second) {
    settings_.base_url = TrimSlash(settings_.base_url);
}

HttpAuth0Api::~HttpAuth0Api() = default;

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
            return http::Request{"POST", settings_.base_url + "/oauth/token",
                                 {{"Content-Type", "application/json"}, {"Accept", "application/json"}},
                                 body.dump()};
        }
        return http::Request{"POST", settings_.base_url + "/oauth/token",
                             {{"Content-Type", "application/x-www-form-urlencoded"},
                              {"Accept", "application/json"}},
                             wire::FormEncode(fields)};
    };
    const bool as_json = token_body_json_.load();
    auto answer = Send(call, request_as(as_json));
    if (!answer) return answer.error();
    if (answer->status == 400 || answer->status == 401 || answer->status == 403 || answer->status == 415) {
        auto other = Send(call, request_as(!as_json));
        if (other && Is2xx(other->status)) {
            token_body_json_ = !as_json;
            core::Logger("auth0")->info("event=token_body_format format={}", !as_json ? "json" : "form");
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
        if (it->is_number()) expires_in = it->get<std::int64_t>();
        if (it->is_string()) expires_in = std::strtoll(it->get<std::string>().c_str(), nullptr, 10);
        // A lifetime of nothing would mean a fetch per request: keep a token at least 30 s
        // (a 401 still drops it early).
        expires_in = std::max<std::int64_t>(expires_in, 30);
    }
    return Token{token->get<std::string>(), now + std::chrono::seconds{expires_in}};
}

core::Result<http::Response> HttpAuth0Api::Send(const Call& call, const http::Request& request) {
    ++stats_.requests;
    auto answer = http_.Perform(request);
    if (!answer) {
        ++stats_.transport_errors;
        return Failed(call, ClassifyTransportError(call, answer.error()));
    }
    return answer;
}

core::Error HttpAuth0Api::Failed(const Call& call, core::Error error) {
    if (error.http_status == 429) ++stats_.rate_limited;
    if (error.http_status >= 500) ++stats_.server_errors;
    // A 409 on create is the "user exists" path, not a failure: info, not warning.
    core::Logger("auth0")->log(
        error.kind == core::ErrorKind::kConflict ? spdlog::level::info : spdlog::level::warn,
        "event=auth0_call_failed endpoint=\"{}\" status={} kind={} code={} error=\"{}\"",
        call.endpoint, error.http_status, core::ToString(error.kind), error.code, error.message);
    return error;
}

core::Result<http::Response> HttpAuth0Api::Management(const Call& call, const std::string& method,
                                                      const std::string& path_and_query,
                                                      const std::optional<json>& body,
                                                      long also_accept) {
    for (int attempt = 0;; ++attempt) {
        auto token = tokens_.Get();  // a failed fetch was logged by FetchToken
        if (!token) return token.error();
        http::Request request{
            method,
            settings_.base_url + path_and_query,
            {{"Authorization", "Bearer " + *token}, {"Accept", "application/json"}},
            {}};
        if (body) {
            request.headers.emplace_back("Content-Type", "application/json");
            request.body = body->dump();
        }
        pacer_.Acquire();
        auto answer = Send(call, request);
        if (!answer) {
            pacer_.Abandon();
            return answer.error();
        }
        pacer_.Observe(ParseRateLimitHeaders(*answer));
        const long status = answer->status;
        if (Is2xx(status) || (also_accept != 0 && status == also_accept)) return answer;

        if (status == 401 && attempt == 0) {
            // Expired or revoked ahead of our clock: only this token is dropped, so concurrent
            // 401s for it cause a single new fetch.
            tokens_.Invalidate(*token);
            core::Logger("auth0")->info("event=token_refused endpoint=\"{}\" action=refetch",
                                        call.endpoint);
            continue;
        }
        core::Error error = *ClassifyAnswer(call, *answer, clock_.Now());
        if (status == 401) {
            error.kind = core::ErrorKind::kPermanent;
            error.message = call.endpoint +
                            " answered 401 twice, the second time with a newly fetched token; "
                            "check the API's token settings (audience, signing) in Auth0";
        }
        if (status == 429) pacer_.BlockUntil(error.not_before.value_or(clock_.Now() + 1s));
        return Failed(call, std::move(error));
    }
}

core::Result<User> HttpAuth0Api::CreateUser(const NewUser& user) {
    const Call call{ApiKind::kManagement, "POST /api/v2/users"};
    auto answer = Management(call, "POST", "/api/v2/users", wire::CreateUserBody(user));
    if (!answer) return answer.error();
    auto parsed = wire::ParseUser(json::parse(answer->body, nullptr, false));
    if (!parsed) return Failed(call, MalformedAnswer(call, answer->status, "not a user object"));
    return std::move(*parsed);
}

core::Result<std::optional<User>> HttpAuth0Api::GetUser(const std::string& user_id) {
    // "pass the URL-encoded user ID" (docs-v2 get-users-by-id-or-email.mdx)
    const Call call{ApiKind::kManagement, "GET /api/v2/users/{id}"};
    auto answer =
        Management(call, "GET", "/api/v2/users/" + PercentEncode(user_id), std::nullopt, 404);
    if (!answer) return answer.error();
    if (answer->status == 404) return std::optional<User>{};
    auto parsed = wire::ParseUser(json::parse(answer->body, nullptr, false));
    if (!parsed) return Failed(call, MalformedAnswer(call, answer->status, "not a user object"));
    return std::optional<User>{std::move(*parsed)};
}

core::Result<std::vector<User>> HttpAuth0Api::GetUsersByEmail(const std::string& email) {
    const Call call{ApiKind::kManagement, "GET /api/v2/users-by-email"};
    auto answer = Management(call, "GET", "/api/v2/users-by-email?email=" + PercentEncode(email),
                             std::nullopt);
    if (!answer) return answer.error();
    auto users = wire::ParseUsers(answer->body);
    if (!users) return Failed(call, MalformedAnswer(call, answer->status, "not an array of users"));
    return std::move(*users);
}

core::Status HttpAuth0Api::UpdateUser(const std::string& user_id, const json& patch) {
    const Call call{ApiKind::kManagement, "PATCH /api/v2/users/{id}"};
    return Done(Management(call, "PATCH", "/api/v2/users/" + PercentEncode(user_id), patch));
}

core::Status HttpAuth0Api::AssignRoles(const std::string& user_id,
                                       const std::vector<std::string>& role_ids) {
    // 204 without a body on success (OAS); any 2xx is accepted. The OAS lists no 409 here, but
    // a stand-in that answers "already assigned" with 409 means the step is done.
    const Call call{ApiKind::kManagement, "POST /api/v2/users/{id}/roles"};
    return Done(Management(call, "POST", "/api/v2/users/" + PercentEncode(user_id) + "/roles",
                           json{{"roles", role_ids}}, 409));
}

core::Status HttpAuth0Api::SendPasswordChangeEmail(const std::string& email,
                                                   const std::string& connection,
                                                   const std::string& client_id) {
    // Authentication API: no token, and its own limits (1/minute per IP and email, auth0-facts
    // §1), so it is not paced with the Management API. Answers 200 with plain text (§6).
    const Call call{ApiKind::kAuthentication, "POST /dbconnections/change_password"};
    json body = {{"client_id", client_id}, {"email", email}, {"connection", connection}};
    http::Request request{"POST",
                          settings_.base_url + "/dbconnections/change_password",
                          {{"Content-Type", "application/json"}},
                          body.dump()};
    auto answer = Send(call, request);
    if (!answer) return answer.error();
    if (auto error = ClassifyAnswer(call, *answer, clock_.Now()))
        return Failed(call, std::move(*error));
    return {};
}

core::Result<std::vector<Role>> HttpAuth0Api::FindRoles(const std::string& name_filter) {
    const Call call{ApiKind::kManagement, "GET /api/v2/roles"};
    auto answer = Management(
        call, "GET", "/api/v2/roles?name_filter=" + PercentEncode(name_filter) + "&per_page=100",
        std::nullopt);
    if (!answer) return answer.error();
    auto roles = wire::ParseRoles(answer->body);
    if (!roles) return Failed(call, MalformedAnswer(call, answer->status, "not an array of roles"));
    return std::move(*roles);
}

core::Status HttpAuth0Api::Probe() {
    const Call call{ApiKind::kManagement, "GET /api/v2/roles"};
    return Done(Management(call, "GET", "/api/v2/roles?per_page=1", std::nullopt));
}

core::Result<std::vector<std::string>> ResolveRoleIds(Auth0Api& api,
                                                      const std::vector<std::string>& role_names) {
    std::vector<std::string> ids;
    for (const auto& name : role_names) {
        auto roles = api.FindRoles(name);
        if (!roles) return roles.error();
        const Role* match = nullptr;
        for (const auto& role : *roles) {
            if (role.name == name) match = &role;  // exact: name_filter is case-insensitive
        }
        if (match == nullptr) {
            return core::Error{core::ErrorKind::kConfiguration,
                               "role \"" + name +
                                   "\" does not exist in Auth0 (exact, case-sensitive "
                                   "name); create it or fix auth0.roles",
                               "role_not_found", 0, std::nullopt};
        }
        ids.push_back(match->id);
    }
    return ids;
}

}  // namespace kyc_bridge::auth0
