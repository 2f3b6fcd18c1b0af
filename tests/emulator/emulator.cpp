// SPDX-License-Identifier: Apache-2.0
// Request handling for the Auth0 emulator. What Auth0 answers, and where that is written down,
// is in ../shared/reference/auth0-facts.md; section numbers below refer to it.
#include "emulator.hpp"

#include <ctime>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace auth0_emulator {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxRecordedRequests = 50000;

void SendJson(httplib::Response& response, int status, const json& body) {
    response.status = status;
    response.set_content(body.dump(), "application/json; charset=utf-8");
}

void SendApiError(httplib::Response& response, const ApiError& error) {
    SendJson(response, error.status, ErrorBody(error));
}

// The Authentication API's error shape: {"error","error_description"} (§2).
void SendOAuthError(httplib::Response& response, int status, const std::string& error,
                    const std::string& description) {
    SendJson(response, status, {{"error", error}, {"error_description", description}});
}

std::string Base64Decode(const std::string& in) {
    static const std::string kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    int value = 0;
    int bits = -8;
    for (char c : in) {
        auto pos = kAlphabet.find(c);
        if (pos == std::string::npos) break;  // '=' padding or junk ends the data
        value = (value << 6) + static_cast<int>(pos);
        bits += 6;
        if (bits >= 0) {
            out.push_back(static_cast<char>((value >> bits) & 0xFF));
            bits -= 8;
        }
    }
    return out;
}

std::string PercentDecode(const std::string& in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size()) {
            out.push_back(static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(in[i]);
        }
    }
    return out;
}

// Form or JSON: the token and change_password endpoints accept both (§2).
std::map<std::string, std::string> BodyFields(const httplib::Request& request) {
    std::map<std::string, std::string> fields;
    const auto type = request.get_header_value("Content-Type");
    if (type.find("application/json") != std::string::npos) {
        auto body = json::parse(request.body, nullptr, false);
        if (body.is_object()) {
            for (const auto& [key, value] : body.items()) {
                if (value.is_string()) fields[key] = value.get<std::string>();
            }
        }
        return fields;
    }
    for (const auto& [key, value] : request.params) fields[key] = value;
    return fields;
}

// "/api/v2/users/auth0%7Cx/roles" → ("/api/v2/users/{id}/roles", "auth0|x").
std::pair<std::string, std::string> ManagementRoute(const std::string& path) {
    static const std::string kUsers = "/api/v2/users/";
    if (path.rfind(kUsers, 0) == 0 && path.size() > kUsers.size()) {
        auto rest = path.substr(kUsers.size());
        auto slash = rest.find('/');
        auto id = PercentDecode(rest.substr(0, slash));
        return {slash == std::string::npos ? "/api/v2/users/{id}"
                                           : "/api/v2/users/{id}" + rest.substr(slash),
                id};
    }
    return {path, ""};
}

json RoleJson(const Role& role) {
    return {{"id", role.id}, {"name", role.name}, {"description", role.description}};
}

}  // namespace

Emulator::Emulator(Options options)
    : options_(std::move(options)),
      directory_(options_.connection, options_.roles),
      rng_(options_.seed),
      bucket_(options_.rate_limit_burst) {}

std::string Emulator::Now() const {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[40];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buffer, static_cast<int>(millis));
    return out;
}

void Emulator::SeedFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read seed file " + path);
    auto users = json::parse(in);
    std::lock_guard lock(mutex_);
    for (const auto& user : users) {
        auto result = directory_.Seed(user, Now());
        if (auto* error = std::get_if<ApiError>(&result)) {
            throw std::runtime_error("seed user rejected: " + error->message);
        }
    }
}

void Emulator::Register(httplib::Server& server) {
    auto handler = [this](const httplib::Request& request, httplib::Response& response) {
        Handle(request, response);
    };
    server.Get(".*", handler);
    server.Post(".*", handler);
    server.Patch(".*", handler);
    server.Delete(".*", handler);
    server.Put(".*", handler);
}

void Emulator::Record(const httplib::Request& request, const std::string& route, int status) {
    std::lock_guard lock(mutex_);
    if (requests_.size() >= kMaxRecordedRequests) return;
    requests_.push_back({{"method", request.method},
                         {"route", route},
                         {"status", status},
                         {"at", Now()}});
}

void Emulator::Handle(const httplib::Request& request, httplib::Response& response) {
    if (request.path.rfind("/__emulator/", 0) == 0) {
        HandleTestEndpoint(request, response);
        return;
    }
    const auto fault = ApplyFault(request, response);
    if (fault == FaultAction::kAnswered) {
        Record(request, request.method + " " + ManagementRoute(request.path).first, response.status);
        return;
    }
    if (fault != FaultAction::kDropBefore) {
        if (request.method == "POST" && request.path == "/oauth/token") {
            HandleToken(request, response);
        } else if (request.method == "POST" && request.path == "/dbconnections/change_password") {
            HandleChangePassword(request, response);
        } else if (request.path.rfind("/api/v2/", 0) == 0) {
            HandleManagement(request, response, request.method + " " + ManagementRoute(request.path).first);
        } else {
            SendApiError(response, {404, "Not Found", ""});
        }
        Record(request, request.method + " " + ManagementRoute(request.path).first, response.status);
    }
    if (fault == FaultAction::kDropBefore || fault == FaultAction::kDropAfter) {
        // A provider that fails after the headers are out: cpp-httplib closes the connection,
        // and the client sees a truncated answer — a dropped connection.
        response.set_content_provider(
            1024, "application/json",
            [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
    }
}

Emulator::FaultAction Emulator::ApplyFault(const httplib::Request& request,
                                           httplib::Response& response) {
    int delay_ms = 0;
    FaultAction action = FaultAction::kNone;
    {
        std::lock_guard lock(mutex_);
        const auto now = Clock::now();
        std::erase_if(faults_, [&](const Fault& f) { return f.until <= now; });
        for (const auto& fault : faults_) {
            if (request.path.rfind(fault.path_prefix, 0) != 0) continue;
            if (std::uniform_real_distribution<double>(0, 1)(rng_) >= fault.rate) continue;
            ++faults_injected_;
            if (fault.kind == "status") {
                ++by_route_[request.method + " " + ManagementRoute(request.path).first];
                if (request.path.rfind("/api/v2/", 0) == 0) ++management_requests_;
                SendApiError(response, {fault.status, "Injected fault", ""});
                return FaultAction::kAnswered;
            }
            if (fault.kind == "delay") {
                delay_ms = fault.delay_ms;
            } else if (fault.kind == "drop") {
                action = FaultAction::kDropBefore;
            } else if (fault.kind == "drop_after") {
                action = FaultAction::kDropAfter;
            }
            break;
        }
    }
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds{delay_ms});
    return action;
}

bool Emulator::TakeRateLimit(httplib::Response& response) {
    const auto now = Clock::now();
    const auto unix_now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    if (options_.rate_limit_per_second <= 0) {
        // No limit configured: Auth0 still sends the headers on every rate-limited endpoint (§1).
        response.set_header("x-ratelimit-limit", "1000");
        response.set_header("x-ratelimit-remaining", "1000");
        response.set_header("x-ratelimit-reset", std::to_string(unix_now + 1));
        return true;
    }
    // A token bucket refilled continuously; burst = bucket size (§1 "How the limiter works").
    const double elapsed = std::chrono::duration<double>(now - bucket_refilled_at_).count();
    bucket_ = std::min(options_.rate_limit_burst, bucket_ + elapsed * options_.rate_limit_per_second);
    bucket_refilled_at_ = now;
    const bool allowed = bucket_ >= 1.0;
    if (allowed) bucket_ -= 1.0;
    // x-ratelimit-reset: UNIX seconds when the next request is added to the bucket.
    const double until_next = (1.0 - (bucket_ - static_cast<long>(bucket_))) / options_.rate_limit_per_second;
    response.set_header("x-ratelimit-limit", std::to_string(static_cast<long>(options_.rate_limit_burst)));
    response.set_header("x-ratelimit-remaining", std::to_string(static_cast<long>(bucket_)));
    response.set_header("x-ratelimit-reset",
                        std::to_string(unix_now + static_cast<long>(until_next) + 1));
    return allowed;
}

bool Emulator::Authorize(const httplib::Request& request, httplib::Response& response,
                         const std::vector<std::string>& scopes) {
    const auto header = request.get_header_value("Authorization");
    if (header.rfind("Bearer ", 0) != 0) {
        SendJson(response, 401, {{"statusCode", 401}, {"error", "Unauthorized"},
                                 {"message", "Missing authentication"}});
        return false;
    }
    auto token = tokens_.find(header.substr(7));
    if (token == tokens_.end()) {
        SendJson(response, 401, {{"statusCode", 401}, {"error", "Unauthorized"},
                                 {"message", "Invalid token"},
                                 {"attributes", {{"error", "Invalid token"}}}});
        return false;
    }
    if (token->second.expires_at <= Clock::now()) {
        const char* message = "Expired token received for JSON Web Token validation";
        SendJson(response, 401, {{"statusCode", 401}, {"error", "Unauthorized"}, {"message", message},
                                 {"attributes", {{"error", message}}}});
        return false;
    }
    for (const auto& scope : scopes) {
        if (token->second.scopes.count(scope)) return true;
    }
    std::string expected;
    for (const auto& scope : scopes) expected += (expected.empty() ? "" : ", ") + scope;
    SendApiError(response, {403, "Insufficient scope, expected any of: " + expected, "insufficient_scope"});
    return false;
}

void Emulator::HandleToken(const httplib::Request& request, httplib::Response& response) {
    auto fields = BodyFields(request);
    // go-auth0 sends the client credentials as HTTP Basic first (§2): accept both.
    const auto authorization = request.get_header_value("Authorization");
    if (authorization.rfind("Basic ", 0) == 0) {
        auto decoded = Base64Decode(authorization.substr(6));
        auto colon = decoded.find(':');
        if (colon != std::string::npos) {
            fields["client_id"] = PercentDecode(decoded.substr(0, colon));
            fields["client_secret"] = PercentDecode(decoded.substr(colon + 1));
        }
    }
    std::lock_guard lock(mutex_);
    ++token_requests_;
    ++by_route_["POST /oauth/token"];
    if (fields["grant_type"] != "client_credentials") {
        SendOAuthError(response, 400, "unsupported_grant_type",
                       "Unsupported grant type: " + fields["grant_type"]);
        return;
    }
    if (fields["client_id"] != options_.client_id || fields["client_secret"] != options_.client_secret ||
        Clock::now() < reject_credentials_until_) {
        // What Auth0 answers a wrong secret (auth0/node-auth0#682, §2).
        SendOAuthError(response, 401, "access_denied", "Unauthorized");
        return;
    }
    const auto& audience = fields["audience"];
    if (audience.empty()) {
        SendOAuthError(response, 403, "access_denied",
                       "No audience parameter was provided, and no default audience has been configured");
        return;
    }
    if (audience.size() < 8 || audience.compare(audience.size() - 8, 8, "/api/v2/") != 0) {
        SendOAuthError(response, 403, "access_denied", "Service not found: " + audience);
        return;
    }
    std::string token = "emu_";
    for (int i = 0; i < 4; ++i) {
        char part[17];
        std::snprintf(part, sizeof part, "%016llx", static_cast<unsigned long long>(rng_()));
        token += part;
    }
    TokenInfo info{Clock::now() + std::chrono::seconds{options_.token_ttl_s},
                   {options_.scopes.begin(), options_.scopes.end()}};
    tokens_[token] = info;
    std::string scope;
    for (const auto& s : options_.scopes) scope += (scope.empty() ? "" : " ") + s;
    SendJson(response, 200, {{"access_token", token}, {"expires_in", options_.token_ttl_s},
                             {"scope", scope}, {"token_type", "Bearer"}});
}

void Emulator::HandleChangePassword(const httplib::Request& request, httplib::Response& response) {
    auto fields = BodyFields(request);
    std::lock_guard lock(mutex_);
    ++by_route_["POST /dbconnections/change_password"];
    if (fields["email"].empty()) {
        SendOAuthError(response, 400, "invalid_request", "Missing required parameter: email");
        return;
    }
    if (fields["connection"] != options_.connection) {
        SendOAuthError(response, 400, "invalid_request", "connection not found");
        return;
    }
    if (!fields["client_id"].empty() && fields["client_id"] != options_.client_id) {
        SendOAuthError(response, 400, "invalid_request", "Unknown client: " + fields["client_id"]);
        return;
    }
    const auto email = Lower(fields["email"]);
    if (options_.change_password_per_minute > 0) {
        // 1 per minute from one IP to one email address, on every plan (§1).
        auto& sent = password_emails_at_[email];
        const auto now = Clock::now();
        std::erase_if(sent, [&](auto at) { return now - at >= std::chrono::minutes{1}; });
        if (static_cast<int>(sent.size()) >= options_.change_password_per_minute) {
            SendOAuthError(response, 429, "too_many_requests",
                           "Rate limit exceeded. Please retry after some time.");
            return;
        }
        sent.push_back(now);
    }
    // The answer is the same whether or not the user exists (§6); only a user gets an email.
    for (const auto& user : directory_.FindByEmail(email)) {
        emails_.push_back({{"type", "change_password"}, {"email", email},
                           {"user_id", user["user_id"]}, {"client_id", fields["client_id"]},
                           {"connection", fields["connection"]}, {"at", Now()}});
    }
    response.status = 200;
    response.set_content("We've just sent you an email to reset your password.", "text/plain");
}

void Emulator::HandleManagement(const httplib::Request& request, httplib::Response& response,
                                const std::string& route) {
    std::lock_guard lock(mutex_);
    ++management_requests_;
    ++by_route_[route];
    // The tenant-wide limit is checked first (§1).
    if (!TakeRateLimit(response)) {
        ++rate_limited_;
        SendApiError(response, {429, "Global limit has been reached", "too_many_requests"});
        return;
    }
    const auto user_id = ManagementRoute(request.path).second;
    auto body = json::parse(request.body, nullptr, false);
    const bool has_body = request.method == "POST" || request.method == "PATCH";
    auto bad_json = [&] {
        SendApiError(response, {400, "Invalid request payload JSON format", "invalid_body"});
    };

    if (route == "POST /api/v2/users") {
        if (!Authorize(request, response, {"create:users"})) return;
        if (body.is_discarded()) return bad_json();
        if (body.is_object() && body.contains("email") && body["email"].is_string()) {
            const auto email = Lower(body["email"].get<std::string>());
            if (auto it = rejected_emails_.find(email); it != rejected_emails_.end()) {
                return SendApiError(response, it->second);
            }
            const auto bare_id = body.value("user_id", json("")).is_string()
                                     ? body.value("user_id", std::string()) : std::string();
            if (ghost_conflicts_.count(email) || (!bare_id.empty() && ghost_conflicts_.count(bare_id))) {
                return SendApiError(response, {409, "The user already exists.", "auth0_idp_error"});
            }
        }
        auto created = directory_.Create(body, Now());
        if (auto* error = std::get_if<ApiError>(&created)) return SendApiError(response, *error);
        auto& user = std::get<json>(created);
        // email_verified false (the default) sends a verification email unless verify_email
        // says otherwise (§3 "Email flags").
        const bool verify = body.contains("verify_email") ? body.value("verify_email", false)
                                                          : !body.value("email_verified", false);
        if (verify) {
            emails_.push_back({{"type", "verification"}, {"email", user["email"]},
                               {"user_id", user["user_id"]}, {"at", Now()}});
        }
        return SendJson(response, 201, user);
    }
    if (route == "GET /api/v2/users/{id}") {
        if (!Authorize(request, response, {"read:users"})) return;
        auto user = directory_.Find(user_id);
        if (!user) return SendApiError(response, {404, "The user does not exist.", "inexistent_user"});
        return SendJson(response, 200, *user);
    }
    if (route == "PATCH /api/v2/users/{id}") {
        if (!Authorize(request, response, {"update:users", "update:users_app_metadata"})) return;
        if (body.is_discarded()) return bad_json();
        auto patched = directory_.Patch(user_id, body, Now());
        if (auto* error = std::get_if<ApiError>(&patched)) return SendApiError(response, *error);
        return SendJson(response, 200, std::get<json>(patched));
    }
    if (route == "DELETE /api/v2/users/{id}") {
        if (!Authorize(request, response, {"delete:users"})) return;
        directory_.Delete(user_id);  // Auth0 answers 204 whether or not the user existed
        response.status = 204;
        return;
    }
    if (route == "GET /api/v2/users-by-email") {
        if (!Authorize(request, response, {"read:users"})) return;
        if (!request.has_param("email")) {
            return SendApiError(response, {400, "Query validation error: 'Missing required property: email'.",
                                           "invalid_query_string"});
        }
        const auto email = request.get_param_value("email");
        if (!LooksLikeEmail(email)) {
            return SendApiError(response, {400, "Query validation error: 'Object didn't pass validation for format email: " +
                                                    email + "' on property email.",
                                           "invalid_query_string"});
        }
        json users = json::array();
        for (auto& user : directory_.FindByEmail(email)) users.push_back(user);  // case-sensitive (§4)
        return SendJson(response, 200, users);
    }
    if (route == "GET /api/v2/roles") {
        if (!Authorize(request, response, {"read:roles"})) return;
        auto roles = directory_.FindRoles(request.get_param_value("name_filter"));
        const int per_page = request.has_param("per_page") ? std::stoi(request.get_param_value("per_page")) : 50;
        const int page = request.has_param("page") ? std::stoi(request.get_param_value("page")) : 0;
        if (per_page < 1 || per_page > 100) {
            return SendApiError(response, {400, "Query validation error: 'per_page' must be between 1 and 100.",
                                           "invalid_query_string"});
        }
        json list = json::array();
        for (std::size_t i = static_cast<std::size_t>(page * per_page);
             i < roles.size() && i < static_cast<std::size_t>((page + 1) * per_page); ++i) {
            list.push_back(RoleJson(roles[i]));
        }
        if (request.get_param_value("include_totals") == "true") {
            return SendJson(response, 200, {{"roles", list}, {"start", page * per_page},
                                            {"limit", per_page}, {"total", roles.size()}});
        }
        return SendJson(response, 200, list);
    }
    if (route == "POST /api/v2/users/{id}/roles") {
        if (!Authorize(request, response, {"update:users", "create:role_members"})) return;
        if (has_body && body.is_discarded()) return bad_json();
        if (auto error = directory_.AssignRoles(user_id, body)) return SendApiError(response, *error);
        response.status = 204;  // no body (§5)
        return;
    }
    if (route == "GET /api/v2/users/{id}/roles") {
        if (!Authorize(request, response, {"read:users", "read:roles", "read:role_members"})) return;
        json list = json::array();
        for (const auto& role : directory_.RolesOf(user_id)) list.push_back(RoleJson(role));
        return SendJson(response, 200, list);
    }
    SendApiError(response, {404, "Not Found", ""});
}

void Emulator::HandleTestEndpoint(const httplib::Request& request, httplib::Response& response) {
    const auto route = request.method + " " + request.path.substr(std::string("/__emulator").size());
    auto body = json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
    if (body.is_discarded()) return SendJson(response, 400, {{"error", "body is not JSON"}});
    std::lock_guard lock(mutex_);
    try {
        if (route == "GET /users") return SendJson(response, 200, directory_.Dump());
        if (route == "POST /users") {
            json created = json::array();
            for (const auto& seed : body.is_array() ? body : json::array({body})) {
                auto result = directory_.Seed(seed, Now());
                if (auto* error = std::get_if<ApiError>(&result)) return SendApiError(response, *error);
                created.push_back(std::get<json>(result));
            }
            return SendJson(response, 201, created);
        }
        if (route == "GET /emails") return SendJson(response, 200, emails_);
        if (route == "GET /requests") return SendJson(response, 200, requests_);
        if (route == "GET /stats") {
            return SendJson(response, 200,
                            {{"token_requests", token_requests_},
                             {"management_requests", management_requests_},
                             {"rate_limited", rate_limited_},
                             {"faults_injected", faults_injected_},
                             {"users", directory_.Dump().size()},
                             {"emails", emails_.size()},
                             {"by_route", by_route_}});
        }
        if (route == "POST /faults") {
            Fault fault;
            fault.kind = body.at("kind").get<std::string>();
            if (fault.kind != "status" && fault.kind != "delay" && fault.kind != "drop" &&
                fault.kind != "drop_after") {
                return SendJson(response, 400, {{"error", "kind must be status, delay, drop or drop_after"}});
            }
            fault.rate = body.value("rate", 1.0);
            fault.until = Clock::now() + std::chrono::milliseconds{body.value("duration_ms", 60000)};
            fault.path_prefix = body.value("path_prefix", "/");
            fault.status = body.value("status", 503);
            fault.delay_ms = body.value("delay_ms", 0);
            faults_.push_back(fault);
            return SendJson(response, 201, {{"faults", faults_.size()}});
        }
        if (route == "DELETE /faults") {
            faults_.clear();
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /tokens/invalidate") {
            // Tokens cannot be revoked in Auth0 (§2); what a client meets is an expired token.
            for (auto& [token, info] : tokens_) info.expires_at = Clock::now();
            return SendJson(response, 200, {{"invalidated", tokens_.size()}});
        }
        if (route == "POST /credentials") {
            reject_credentials_until_ = Clock::now() + std::chrono::milliseconds{body.value("reject_for_ms", 0)};
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /scopes") {
            options_.scopes = body.at("scopes").get<std::vector<std::string>>();
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /reject-email") {
            const auto email = Lower(body.at("email").get<std::string>());
            const int status = body.value("status", 400);
            rejected_emails_[email] = {
                status,
                body.value("message", "Payload validation error: 'Object didn't pass validation for format email: " +
                                          email + "' on property email (The user's email)."),
                body.value("error_code", "invalid_body")};
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /ghost-conflict") {
            if (body.contains("email")) ghost_conflicts_.insert(Lower(body["email"].get<std::string>()));
            if (body.contains("user_id")) ghost_conflicts_.insert(body["user_id"].get<std::string>());
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /rate-limit") {
            options_.rate_limit_per_second = body.value("per_second", 0.0);
            options_.rate_limit_burst = body.value("burst", options_.rate_limit_per_second);
            bucket_ = options_.rate_limit_burst;
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /reset") {
            directory_.Clear();
            tokens_.clear();
            faults_.clear();
            emails_.clear();
            requests_.clear();
            by_route_.clear();
            token_requests_ = management_requests_ = rate_limited_ = faults_injected_ = 0;
            rejected_emails_.clear();
            ghost_conflicts_.clear();
            password_emails_at_.clear();
            return SendJson(response, 200, json::object());
        }
    } catch (const json::exception& e) {
        return SendJson(response, 400, {{"error", e.what()}});
    }
    SendJson(response, 404, {{"error", "no test endpoint " + route}});
}

}  // namespace auth0_emulator
