// SPDX-License-Identifier: Apache-2.0
// Request handling for the Auth0 emulator. What Auth0 answers, and where that is written down,
// is in ../shared/reference/auth0-facts.md; section numbers below refer to it.
#include "emulator.hpp"

#include <ctime>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "replies.hpp"

namespace auth0_emulator {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxRecordedRequests = 50000;

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
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
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
    requests_.push_back(
        {{"method", request.method}, {"route", route}, {"status", status}, {"at", Now()}});
}

void Emulator::Handle(const httplib::Request& request, httplib::Response& response) {
    if (request.path.rfind("/__emulator/", 0) == 0) {
        HandleTestEndpoint(request, response);
        return;
    }
    const auto fault = ApplyFault(request, response);
    if (fault == FaultAction::kAnswered) {
        Record(request, request.method + " " + ManagementRoute(request.path).first,
               response.status);
        return;
    }
    if (fault != FaultAction::kDropBefore) {
        if (request.method == "POST" && request.path == "/oauth/token") {
            HandleToken(request, response);
        } else if (request.method == "POST" && request.path == "/dbconnections/change_password") {
            HandleChangePassword(request, response);
        } else if (auto tenant_route = TenantRoute(request.method, request.path);
                   !tenant_route.empty()) {
            HandleTenant(request, response, tenant_route);  // tenant as code (#10)
        } else if (request.path.rfind("/api/v2/", 0) == 0) {
            HandleManagement(request, response,
                             request.method + " " + ManagementRoute(request.path).first);
        } else {
            SendApiError(response, {404, "Not Found", ""});
        }
        Record(request, request.method + " " + ManagementRoute(request.path).first,
               response.status);
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
            if (fault.kind == "vanish_after_create") continue;  // applied by the create handler
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

void Emulator::VanishIfChosen(const std::string& user_id) {
    const auto now = Clock::now();
    for (const auto& fault : faults_) {
        if (fault.kind != "vanish_after_create" || fault.until <= now) continue;
        if (!fault.user_ids.count(user_id)) continue;
        ++faults_injected_;
        directory_.Delete(user_id);
        return;
    }
}

bool Emulator::TakeRateLimit(httplib::Response& response) {
    const auto now = Clock::now();
    const auto unix_now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    if (options_.rate_limit_per_second <= 0) {
        // No limit configured: Auth0 still sends the headers on every rate-limited endpoint (§1).
        // The budget they state is far above anything one client sends (a large Private Cloud
        // tenant allows 3,000 requests/s), so a client that paces by them is not held back.
        response.set_header("x-ratelimit-limit", "100000");
        response.set_header("x-ratelimit-remaining", "100000");
        response.set_header("x-ratelimit-reset", std::to_string(unix_now + 1));
        return true;
    }
    // A token bucket refilled continuously; burst = bucket size (§1 "How the limiter works").
    const double elapsed = std::chrono::duration<double>(now - bucket_refilled_at_).count();
    bucket_ =
        std::min(options_.rate_limit_burst, bucket_ + elapsed * options_.rate_limit_per_second);
    bucket_refilled_at_ = now;
    const bool allowed = bucket_ >= 1.0;
    if (allowed) bucket_ -= 1.0;
    // x-ratelimit-reset: UNIX seconds when the next request is added to the bucket.
    const double until_next =
        (1.0 - (bucket_ - static_cast<long>(bucket_))) / options_.rate_limit_per_second;
    response.set_header("x-ratelimit-limit",
                        std::to_string(static_cast<long>(options_.rate_limit_burst)));
    response.set_header("x-ratelimit-remaining", std::to_string(static_cast<long>(bucket_)));
    response.set_header("x-ratelimit-reset",
                        std::to_string(unix_now + static_cast<long>(until_next) + 1));
    return allowed;
}

bool Emulator::Authorize(const httplib::Request& request, httplib::Response& response,
                         const std::vector<std::string>& scopes) {
    const auto header = request.get_header_value("Authorization");
    if (header.rfind("Bearer ", 0) != 0) {
        SendJson(response, 401,
                 {{"statusCode", 401},
                  {"error", "Unauthorized"},
                  {"message", "Missing authentication"}});
        return false;
    }
    auto token = tokens_.find(header.substr(7));
    if (token == tokens_.end()) {
        SendJson(response, 401,
                 {{"statusCode", 401},
                  {"error", "Unauthorized"},
                  {"message", "Invalid token"},
                  {"attributes", {{"error", "Invalid token"}}}});
        return false;
    }
    if (token->second.expires_at <= Clock::now()) {
        const char* message = "Expired token received for JSON Web Token validation";
        SendJson(response, 401,
                 {{"statusCode", 401},
                  {"error", "Unauthorized"},
                  {"message", message},
                  {"attributes", {{"error", message}}}});
        return false;
    }
    for (const auto& scope : scopes) {
        if (token->second.scopes.count(scope)) return true;
    }
    std::string expected;
    for (const auto& scope : scopes) expected += (expected.empty() ? "" : ", ") + scope;
    SendApiError(response,
                 {403, "Insufficient scope, expected any of: " + expected, "insufficient_scope"});
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
    if (fields["client_id"] != options_.client_id ||
        fields["client_secret"] != options_.client_secret ||
        Clock::now() < reject_credentials_until_) {
        // What Auth0 answers a wrong secret (auth0/node-auth0#682, §2).
        SendOAuthError(response, 401, "access_denied", "Unauthorized");
        return;
    }
    const auto& audience = fields["audience"];
    if (audience.empty()) {
        SendOAuthError(
            response, 403, "access_denied",
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
    SendJson(response, 200,
             {{"access_token", token},
              {"expires_in", options_.token_ttl_s},
              {"scope", scope},
              {"token_type", "Bearer"}});
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
        emails_.push_back({{"type", "change_password"},
                           {"email", email},
                           {"user_id", user["user_id"]},
                           {"client_id", fields["client_id"]},
                           {"connection", fields["connection"]},
                           {"at", Now()}});
    }
    response.status = 200;
    response.set_content("We've just sent you an email to reset your password.", "text/plain");
}

}  // namespace auth0_emulator
