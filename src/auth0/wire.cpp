// SPDX-License-Identifier: Apache-2.0
// Auth0 JSON bodies ↔ plain structs, and URL/form encoding.
#include "wire.hpp"

#include "kyc_bridge/auth0/management_client.hpp"

namespace kyc_bridge::auth0 {

std::string PercentEncode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                                c == '~';
        if (unreserved) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0x0F];
        }
    }
    return out;
}

namespace wire {
namespace {

std::optional<std::string> StringField(const nlohmann::json& json, const char* key) {
    auto it = json.find(key);
    if (it == json.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

}  // namespace

std::optional<User> ParseUser(const nlohmann::json& json) {
    if (!json.is_object()) return std::nullopt;
    auto user_id = StringField(json, "user_id");
    if (!user_id) return std::nullopt;
    User user;
    user.user_id = std::move(*user_id);
    user.email = StringField(json, "email").value_or("");
    user.given_name = StringField(json, "given_name");
    user.family_name = StringField(json, "family_name");
    if (auto it = json.find("app_metadata"); it != json.end() && it->is_object()) {
        user.app_metadata = *it;
    }
    if (auto it = json.find("identities"); it != json.end() && it->is_array() && !it->empty()) {
        user.connection = StringField(it->front(), "connection").value_or("");
    }
    return user;
}

std::optional<std::vector<User>> ParseUsers(const std::string& body) {
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_array()) return std::nullopt;
    std::vector<User> users;
    for (const auto& item : json) {
        auto user = ParseUser(item);
        if (!user) return std::nullopt;
        users.push_back(std::move(*user));
    }
    return users;
}

std::optional<std::vector<Role>> ParseRoles(const std::string& body) {
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (json.is_object() && json.contains("roles")) json = json["roles"];
    if (!json.is_array()) return std::nullopt;
    std::vector<Role> roles;
    for (const auto& item : json) {
        if (!item.is_object()) return std::nullopt;
        auto id = StringField(item, "id");
        auto name = StringField(item, "name");
        if (!id || !name) return std::nullopt;
        roles.push_back({std::move(*id), std::move(*name)});
    }
    return roles;
}

nlohmann::json CreateUserBody(const NewUser& user) {
    nlohmann::json body = {
        {"user_id", user.user_id},
        {"connection", user.connection},
        {"email", user.email},
        {"password", user.password},
        {"app_metadata", user.app_metadata},
        // verify_email overrides email_verified; false means no Auth0 verification email
        // (auth0-facts §3 "Email flags").
        {"verify_email", user.verify_email},
    };
    if (user.given_name) body["given_name"] = *user.given_name;
    if (user.family_name) body["family_name"] = *user.family_name;
    return body;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string out;
    for (const auto& [name, value] : fields) {
        if (!out.empty()) out += '&';
        out += PercentEncode(name) + "=" + PercentEncode(value);
    }
    return out;
}

}  // namespace wire
}  // namespace kyc_bridge::auth0
