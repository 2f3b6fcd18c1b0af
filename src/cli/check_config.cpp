// SPDX-License-Identifier: Apache-2.0
// `check-config`: the config, the token's scopes, the roles and the topics, each checked live.
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kyc_bridge/auth0/management_client.hpp"
#include "kyc_bridge/config/config.hpp"
#include "kyc_bridge/http/http_client.hpp"
#include "kyc_bridge/kafka/kafka.hpp"
#include "ops_verbs.hpp"

namespace kyc_bridge::cli {

namespace {

using nlohmann::json;

/// One scope need: any of `scopes` is enough (Auth0's 403 "expected any of", auth0-facts §7).
struct ScopeNeed {
    std::vector<std::string> scopes;
    std::string used_by;
};

std::vector<ScopeNeed> NeededScopes(const config::Config& c) {
    std::vector<ScopeNeed> needs = {
        {{"create:users"}, "POST /api/v2/users"},
        {{"read:users"}, "GET /api/v2/users/{id}, GET /api/v2/users-by-email"},
        // PATCH also takes update:users_app_metadata, but the per-user role fallback and the
        // verification email need update:users itself.
        {{"update:users"}, "PATCH /api/v2/users/{id}, POST /api/v2/users/{id}/roles"},
        {{"read:roles"}, "GET /api/v2/roles (resolving auth0.roles)"},
    };
    if (c.provision.role_batch_size > 1) {
        needs.push_back({{"create:role_members", "update:roles"}, "POST /api/v2/roles/{id}/users"});
    }
    return needs;
}

std::string Base64UrlDecode(const std::string& in) {
    std::string out;
    int bits = 0;
    unsigned value = 0;
    for (char ch : in) {
        int d;
        if (ch >= 'A' && ch <= 'Z')
            d = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            d = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            d = ch - '0' + 52;
        else if (ch == '-' || ch == '+')
            d = 62;
        else if (ch == '_' || ch == '/')
            d = 63;
        else
            break;  // padding
        value = (value << 6) | static_cast<unsigned>(d);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((value >> bits) & 0xff));
        }
    }
    return out;
}

/// The granted scopes: the JWT payload's `scope` claim (decoded, signature NOT checked: we only
/// report, we grant nothing), else the token response's `scope` field (an opaque token).
std::set<std::string> GrantedScopes(const json& answer, std::string& source) {
    // A field of another type (a stand-in's quirk) reads as absent rather than throwing.
    auto text = [&answer](const char* name) {
        auto it = answer.find(name);
        return it != answer.end() && it->is_string() ? it->get<std::string>() : std::string{};
    };
    std::string scope = text("scope");
    source = "token response";
    const auto token = text("access_token");
    const auto first = token.find('.');
    const auto second = token.find('.', first + 1);
    if (first != std::string::npos && second != std::string::npos) {
        auto claims = json::parse(Base64UrlDecode(token.substr(first + 1, second - first - 1)),
                                  nullptr, false);
        if (claims.is_object() && claims.contains("scope") && claims["scope"].is_string()) {
            scope = claims["scope"].get<std::string>();
            source = "token's scope claim (signature not checked)";
        }
    }
    std::set<std::string> granted;
    std::istringstream words(scope);
    for (std::string word; words >> word;) granted.insert(word);
    return granted;
}

/// POST /oauth/token (client_credentials); the parsed answer or a problem.
json FetchToken(const config::Auth0Config& a, std::vector<std::string>& problems) {
    http::Options options;
    options.connect_timeout_ms = a.connect_timeout_ms;
    options.request_timeout_ms = a.request_timeout_ms;
    options.allow_insecure_http = a.allow_insecure_http;
    options.ca_file = a.ca_file;
    http::HttpClient client(options);
    json body = {{"grant_type", "client_credentials"},
                 {"client_id", a.client_id},
                 {"client_secret", a.client_secret},
                 {"audience", a.audience}};
    auto answer =
        client.Perform({"POST",
                        a.base_url + "/oauth/token",
                        {{"Content-Type", "application/json"}, {"Accept", "application/json"}},
                        body.dump()});
    if (!answer) {
        problems.push_back("token: " + answer.error().message);
        return nullptr;
    }
    auto parsed = json::parse(answer->body, nullptr, false);
    if (answer->status != 200 || !parsed.is_object() || !parsed.contains("access_token")) {
        // Auth0's error body names the problem (access_denied, unauthorized_client); no secret.
        problems.push_back("token: POST /oauth/token answered " + std::to_string(answer->status) +
                           ": " + answer->body.substr(0, 300));
        return nullptr;
    }
    return parsed;
}

json CheckScopes(const config::Config& c, std::vector<std::string>& problems) {
    auto answer = FetchToken(c.auth0, problems);
    if (answer.is_null()) return {{"token", "failed"}};
    std::string source;
    auto granted = GrantedScopes(answer, source);
    json needs = json::array();
    for (const auto& need : NeededScopes(c)) {
        bool ok = std::any_of(need.scopes.begin(), need.scopes.end(),
                              [&](const std::string& s) { return granted.count(s) > 0; });
        std::string any_of;
        for (const auto& s : need.scopes) any_of += (any_of.empty() ? "" : " or ") + s;
        if (!ok) problems.push_back("scope missing: " + any_of + " (for " + need.used_by + ")");
        needs.push_back({{"scope", any_of}, {"for", need.used_by}, {"granted", ok}});
    }
    return {{"token", "ok"}, {"scopes_from", source}, {"granted", granted}, {"needed", needs}};
}

json CheckRoles(const config::Config& c, std::vector<std::string>& problems) {
    core::SystemClock clock;
    auth0::ClientSettings settings;
    settings.base_url = c.auth0.base_url;
    settings.client_id = c.auth0.client_id;
    settings.client_secret = c.auth0.client_secret;
    settings.audience = c.auth0.audience;
    settings.connect_timeout_ms = c.auth0.connect_timeout_ms;
    settings.request_timeout_ms = c.auth0.request_timeout_ms;
    settings.allow_insecure_http = c.auth0.allow_insecure_http;
    settings.ca_file = c.auth0.ca_file;
    auth0::HttpAuth0Api api(settings, clock);
    auto ids = auth0::ResolveRoleIds(api, c.auth0.roles);
    if (!ids) {
        problems.push_back("roles: " + ids.error().message);
        return {{"resolved", false}, {"error", ids.error().message}};
    }
    json roles = json::object();
    for (std::size_t i = 0; i < ids->size() && i < c.auth0.roles.size(); ++i) {
        roles[c.auth0.roles[i]] = (*ids)[i];
    }
    return {{"resolved", true}, {"ids", roles}};
}

json CheckTopics(const config::Config& c, std::vector<std::string>& problems) {
    if (c.kafka.brokers == "embedded") return {{"checked", false}, {"why", "embedded cluster"}};
    std::vector<std::string> topics;
    try {
        topics = kafka::ListTopics({c.kafka.brokers, c.kafka.group_id, c.kafka.properties},
                                   std::chrono::seconds{10});
    } catch (const std::exception& e) {
        problems.push_back(std::string("topics: ") + e.what());
        return {{"checked", false}, {"error", e.what()}};
    }
    json found = json::object();
    for (const auto& name :
         {c.kafka.input_topic, c.kafka.output_topic, c.kafka.dead_letter_topic}) {
        bool exists = std::find(topics.begin(), topics.end(), name) != topics.end();
        if (!exists) problems.push_back("topic missing: " + name);
        found[name] = exists;
    }
    return {{"checked", true}, {"exists", found}};
}

}  // namespace

int CheckConfig(const OpsOptions& options) {
    config::Config config;
    try {
        config = config::LoadConfig(options.config_path, config::ProcessEnvironment());
    } catch (const config::ConfigError& e) {
        std::cerr << "kyc-bridge: config error: " << e.what() << "\n";
        return kExitConfig;
    }
    std::vector<std::string> problems;
    json report = json::object();
    json values = json::object();
    for (const auto& [key, value] : config::EffectiveValues(config)) values[key] = value;
    report["config"] = values;
    report["auth0"] = CheckScopes(config, problems);
    report["roles"] = CheckRoles(config, problems);
    report["kafka"] = CheckTopics(config, problems);
    report["problems"] = problems;
    report["ok"] = problems.empty();
    if (options.json) {
        std::cout << report.dump() << "\n";
    } else {
        std::cout << "config " << options.config_path << ": valid\n";
        for (const auto& [key, value] : config::EffectiveValues(config)) {
            std::cout << "  " << key << " = " << value << "\n";
        }
        const auto& auth0 = report["auth0"];
        if (auth0.contains("needed")) {
            std::cout << "token: ok; scopes from the " << auth0["scopes_from"].get<std::string>()
                      << "\n";
            for (const auto& need : auth0["needed"]) {
                std::cout << "  " << (need["granted"].get<bool>() ? "ok      " : "MISSING ")
                          << need["scope"].get<std::string>() << "  ("
                          << need["for"].get<std::string>() << ")\n";
            }
        }
        if (report["roles"]["resolved"].get<bool>()) {
            for (const auto& [name, id] : report["roles"]["ids"].items()) {
                std::cout << "role " << name << " = " << id.get<std::string>() << "\n";
            }
        }
        if (report["kafka"]["checked"].get<bool>()) {
            for (const auto& [name, exists] : report["kafka"]["exists"].items()) {
                std::cout << "topic " << name << ": " << (exists.get<bool>() ? "exists" : "MISSING")
                          << "\n";
            }
        }
        for (const auto& problem : problems) std::cout << "problem: " << problem << "\n";
        std::cout << (problems.empty() ? "ok\n" : "not ok\n");
    }
    return problems.empty() ? kExitOk : kExitProblem;
}

}  // namespace kyc_bridge::cli
