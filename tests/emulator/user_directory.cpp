// SPDX-License-Identifier: Apache-2.0
// Auth0's user rules as the emulator applies them. Sources are ../shared/reference/auth0-facts.md
// (sections named below) and the Management API OAS subset next to it.
#include "user_directory.hpp"

#include <algorithm>
#include <cctype>
#include <random>

namespace auth0_emulator {
namespace {

using nlohmann::json;

// CreateUserRequestContent's properties (OAS): anything else is "Additional properties not
// allowed", as Auth0 answers.
const std::set<std::string> kCreateProperties = {
    "email",          "phone_number", "user_metadata", "blocked",     "email_verified",
    "phone_verified", "app_metadata", "given_name",    "family_name", "name",
    "nickname",       "picture",      "user_id",       "connection",  "password",
    "verify_email",   "username"};
const std::set<std::string> kPatchProperties = {
    "blocked",       "email_verified", "email",        "phone_number",        "phone_verified",
    "user_metadata", "app_metadata",   "given_name",   "family_name",         "name",
    "nickname",      "picture",        "verify_email", "verify_phone_number", "password",
    "connection",    "client_id",      "username"};
// app_metadata keys Auth0 refuses (auth0-facts §3, metadata-fields-data.mdx).
const std::set<std::string> kReservedAppMetadata = {"__tenant",
                                                    "_id",
                                                    "blocked",
                                                    "clientID",
                                                    "created_at",
                                                    "email_verified",
                                                    "email",
                                                    "globalClientID",
                                                    "global_client_id",
                                                    "identities",
                                                    "lastIP",
                                                    "lastLogin",
                                                    "loginsCount",
                                                    "metadata",
                                                    "multifactor_last_modified",
                                                    "multifactor",
                                                    "updated_at",
                                                    "user_id"};

ApiError Validation(const std::string& detail) {
    return {400, "Payload validation error: " + detail, "invalid_body"};
}

std::optional<ApiError> CheckProperties(const json& body, const std::set<std::string>& allowed) {
    if (!body.is_object())
        return Validation("'Expected type object but found type " + std::string(body.type_name()) +
                          "'.");
    for (const auto& [key, value] : body.items()) {
        if (!allowed.count(key))
            return Validation("'Additional properties not allowed: " + key + "'.");
    }
    return std::nullopt;
}

std::optional<ApiError> CheckString(const json& body, const char* key, std::size_t min,
                                    std::size_t max, const char* what) {
    auto it = body.find(key);
    if (it == body.end()) return std::nullopt;
    if (!it->is_string()) {
        return Validation("'Expected type string but found type " + std::string(it->type_name()) +
                          "' on property " + key + " (" + what + ").");
    }
    // JSON Schema's minLength/maxLength count characters (code points), not UTF-8 bytes
    // (json-schema-validation §6.3.1); Auth0 validates its bodies that way.
    const auto& text = it->get_ref<const std::string&>();
    const auto size = static_cast<std::size_t>(std::count_if(
        text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
    if (size < min)
        return Validation("'String is too short (0 chars), minimum " + std::to_string(min) +
                          "' on property " + key + " (" + what + ").");
    if (size > max)
        return Validation("'String is too long (" + std::to_string(size) + " chars), maximum " +
                          std::to_string(max) + "' on property " + key + " (" + what + ").");
    return std::nullopt;
}

std::optional<ApiError> CheckMetadata(const json& body, const char* key, bool app) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_object())
        return Validation(std::string("'Expected type object' on property ") + key + ".");
    for (const auto& [name, value] : it->items()) {
        if (name.find_first_of(".$") != std::string::npos) {
            return {{400,
                     "Payload validation error: metadata keys must not contain '.' or '$': " + name,
                     "invalid_body"}};
        }
        if (app && kReservedAppMetadata.count(name)) {
            return {
                {400,
                 "Payload validation error: app_metadata cannot contain the reserved key " + name,
                 "invalid_body"}};
        }
    }
    return std::nullopt;
}

std::optional<ApiError> CheckCommon(const json& body) {
    if (auto e = CheckString(body, "given_name", 1, 150, "The user's given name(s).")) return e;
    if (auto e = CheckString(body, "family_name", 1, 150, "The user's family name(s).")) return e;
    if (auto e = CheckString(body, "name", 1, 300, "The user's full name.")) return e;
    if (auto e = CheckString(body, "nickname", 1, 300, "The user's nickname.")) return e;
    if (auto it = body.find("email"); it != body.end()) {
        if (!it->is_string() || !LooksLikeEmail(it->get<std::string>())) {
            return Validation("'Object didn't pass validation for format email: " +
                              (it->is_string() ? it->get<std::string>() : it->dump()) +
                              "' on property email (The user's email).");
        }
    }
    if (auto it = body.find("phone_number"); it != body.end()) {
        const auto phone = it->is_string() ? it->get<std::string>() : std::string();
        const bool e164 = phone.size() >= 2 && phone.size() <= 16 && phone[0] == '+' &&
                          std::all_of(phone.begin() + 1, phone.end(), ::isdigit);
        if (!e164)
            return Validation(
                "'String does not match pattern ^\\+[0-9]{1,15}$' on property phone_number.");
    }
    if (auto e = CheckMetadata(body, "app_metadata", true)) return e;
    if (auto e = CheckMetadata(body, "user_metadata", false)) return e;
    return std::nullopt;
}

std::string RandomHex(std::size_t chars) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < chars; ++i) out += kHex[rng() % 16];
    return out;
}

}  // namespace

std::string ReasonPhrase(int status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 409:
            return "Conflict";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Error";
    }
}

json ErrorBody(const ApiError& error) {
    json body = {{"statusCode", error.status},
                 {"error", ReasonPhrase(error.status)},
                 {"message", error.message}};
    if (!error.error_code.empty()) body["errorCode"] = error.error_code;
    return body;
}

bool LooksLikeEmail(const std::string& email) {
    const auto at = email.find('@');
    if (at == std::string::npos || at == 0 || email.find('@', at + 1) != std::string::npos)
        return false;
    if (email.find_first_of(" \t\r\n") != std::string::npos) return false;
    const auto dot = email.find('.', at);
    return dot != std::string::npos && dot > at + 1 && dot + 1 < email.size();
}

std::string Lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

UserDirectory::UserDirectory(std::string connection, const std::vector<std::string>& role_names)
    : connection_(std::move(connection)) {
    int n = 0;
    for (const auto& name : role_names) {
        roles_.push_back(
            {"rol_" + std::to_string(1000 + n++) + RandomHex(12), name, name + " role"});
    }
    start_roles_ = roles_;
}

std::variant<json, ApiError> UserDirectory::Create(const json& body, const std::string& now) {
    if (auto e = CheckProperties(body, kCreateProperties)) return *e;
    auto connection = body.find("connection");
    if (connection == body.end() || !connection->is_string() ||
        connection->get<std::string>().empty()) {
        return Validation("'Missing required property: connection'.");
    }
    if (connection->get<std::string>() != connection_) {
        return ApiError{400, "The connection does not exist.", "inexistent_connection"};
    }
    if (auto e = CheckCommon(body)) return *e;
    if (!body.contains("email")) return Validation("'Missing required property: email'.");
    auto password = body.find("password");
    if (password == body.end() || !password->is_string()) {
        return Validation("'Missing required property: password'.");
    }
    // The tenant's password policy ("Fair": at least 8 characters); Auth0 says no more than this
    // (auth0-facts §3, auth0/auth0-java#283).
    if (password->get<std::string>().size() < 8) {
        return ApiError{400, "PasswordStrengthError: Password is too weak", ""};
    }
    std::string bare_id = RandomHex(24);
    if (auto it = body.find("user_id"); it != body.end()) {
        if (!it->is_string() || it->get<std::string>().empty() ||
            it->get<std::string>().size() > 255 ||
            it->get<std::string>().find_first_of(" \t\r\n") != std::string::npos) {
            return Validation("'String does not match pattern ^\\S*$' on property user_id.");
        }
        bare_id = it->get<std::string>();
    }
    // Auth0 prefixes the strategy: a database connection's users are auth0|<id> (auth0-facts §3).
    const std::string user_id = "auth0|" + bare_id;
    const std::string email = Lower(body["email"].get<std::string>());
    if (users_.count(user_id) || !FindByEmail(email).empty()) {
        return ApiError{409, "The user already exists.", "auth0_idp_error"};
    }
    json user = {{"user_id", user_id},
                 {"email", email},
                 {"email_verified", body.value("email_verified", false)},
                 {"created_at", now},
                 {"updated_at", now},
                 {"identities", json::array({{{"connection", connection_},
                                              {"user_id", bare_id},
                                              {"provider", "auth0"},
                                              {"isSocial", false}}})},
                 {"name", body.value("name", email)},
                 {"nickname", body.value("nickname", email.substr(0, email.find('@')))},
                 {"picture", body.value("picture", "https://s.gravatar.com/avatar/emulator.png")},
                 {"app_metadata", body.value("app_metadata", json::object())},
                 {"user_metadata", body.value("user_metadata", json::object())},
                 {"blocked", body.value("blocked", false)},
                 {"logins_count", 0}};
    for (const char* key : {"given_name", "family_name", "phone_number"}) {
        if (body.contains(key)) user[key] = body[key];
    }
    users_[user_id] = user;
    by_email_.emplace(email, user_id);
    return user;
}

std::variant<json, ApiError> UserDirectory::Seed(const json& seed, const std::string& now) {
    if (!seed.is_object() || !seed.contains("email") || !seed["email"].is_string()) {
        return ApiError{400, "a seeded user needs an email", "invalid_body"};
    }
    json body = {{"connection", connection_},
                 {"password", "Seeded-" + RandomHex(16)},
                 {"verify_email", false}};
    for (const auto& [key, value] : seed.items()) {
        if (key != "user_id" && key != "roles") body[key] = value;
    }
    if (auto it = seed.find("user_id"); it != seed.end() && it->is_string()) {
        auto id = it->get<std::string>();
        body["user_id"] = id.rfind("auth0|", 0) == 0 ? id.substr(6) : id;
    }
    auto created = Create(body, now);
    if (auto* user = std::get_if<json>(&created); user && seed.contains("roles")) {
        json ids = json::array();
        for (const auto& role : roles_) {
            for (const auto& wanted : seed["roles"]) {
                if (wanted == role.name) ids.push_back(role.id);
            }
        }
        if (!ids.empty()) AssignRoles((*user)["user_id"], {{"roles", ids}});
    }
    return created;
}

std::variant<json, ApiError> UserDirectory::Patch(const std::string& user_id, const json& body,
                                                  const std::string& now) {
    auto it = users_.find(user_id);
    if (it == users_.end()) return ApiError{404, "The user does not exist.", "inexistent_user"};
    if (auto e = CheckProperties(body, kPatchProperties)) return *e;
    if (auto e = CheckCommon(body)) return *e;
    json& user = it->second;
    if (body.contains("blocked") && body["blocked"] == true && user.value("blocked", false) != true) {
        ++times_blocked_[user_id];
    }
    for (const auto& [key, value] : body.items()) {
        if (key == "app_metadata" || key == "user_metadata") {
            if (value.is_object() && value.empty()) {
                user[key] = json::object();  // {} removes all metadata
                continue;
            }
            for (const auto& [name, field] : value.items()) {
                if (field.is_null()) {
                    user[key].erase(name);
                } else {
                    user[key][name] = field;  // first level only: nested objects replaced whole
                }
            }
        } else if (key == "password" || key == "verify_email" || key == "connection" ||
                   key == "client_id" || key == "verify_phone_number") {
            continue;
        } else if (key == "email") {
            const auto email = Lower(value.get<std::string>());
            for (const auto& other : FindByEmail(email)) {
                if (other["user_id"] != user_id) {
                    return ApiError{400, "The specified new email already exists", "email_exists"};
                }
            }
            std::erase_if(by_email_, [&](const auto& entry) { return entry.second == user_id; });
            by_email_.emplace(email, user_id);
            user["email"] = email;
        } else if (value.is_null()) {
            user.erase(key);
        } else {
            user[key] = value;
        }
    }
    user["updated_at"] = now;
    return user;
}

std::optional<json> UserDirectory::Find(const std::string& user_id) const {
    auto it = users_.find(user_id);
    if (it == users_.end()) return std::nullopt;
    return it->second;
}

std::vector<json> UserDirectory::FindByEmail(const std::string& email) const {
    // An index, not a scan: the benchmark creates tens of thousands of users under one lock.
    std::vector<json> found;
    auto [first, last] = by_email_.equal_range(email);
    for (auto it = first; it != last; ++it) found.push_back(users_.at(it->second));
    return found;
}

bool UserDirectory::Delete(const std::string& user_id) {
    assigned_.erase(user_id);
    if (auto it = users_.find(user_id); it != users_.end()) {
        auto [first, last] = by_email_.equal_range(it->second.value("email", ""));
        for (auto entry = first; entry != last; ++entry) {
            if (entry->second == user_id) {
                by_email_.erase(entry);
                break;
            }
        }
    }
    return users_.erase(user_id) > 0;
}

std::vector<Role> UserDirectory::FindRoles(const std::string& name_filter) const {
    // name_filter is case-insensitive and matches parts of names (auth0-facts §5): clients must
    // compare names exactly themselves.
    std::vector<Role> found;
    const auto filter = Lower(name_filter);
    for (const auto& role : roles_) {
        if (filter.empty() || Lower(role.name).find(filter) != std::string::npos)
            found.push_back(role);
    }
    return found;
}

std::optional<ApiError> UserDirectory::AssignRoles(const std::string& user_id, const json& body) {
    if (!body.is_object() || !body.contains("roles") || !body["roles"].is_array()) {
        return Validation("'Missing required property: roles'.");
    }
    if (body["roles"].empty())
        return Validation("'Array is too short (0), minimum 1' on property roles.");
    if (!users_.count(user_id)) return ApiError{404, "The user does not exist.", "inexistent_user"};
    std::set<std::string> ids;
    for (const auto& id : body["roles"]) {
        if (!id.is_string()) return Validation("'Expected type string' on property roles.");
        const bool known = std::any_of(roles_.begin(), roles_.end(), [&](const Role& r) {
            return r.id == id.get<std::string>();
        });
        if (!known)
            return ApiError{404, "Role not found: " + id.get<std::string>(), "inexistent_role"};
        ids.insert(id.get<std::string>());
    }
    assigned_[user_id].insert(ids.begin(), ids.end());
    return std::nullopt;
}

std::optional<ApiError> UserDirectory::RemoveRoles(const std::string& user_id, const json& body) {
    if (!body.is_object() || !body.contains("roles") || !body["roles"].is_array()) {
        return Validation("'Missing required property: roles'.");
    }
    if (body["roles"].empty())
        return Validation("'Array is too short (0), minimum 1' on property roles.");
    if (!users_.count(user_id)) return ApiError{404, "The user does not exist.", "inexistent_user"};
    for (const auto& id : body["roles"]) {
        if (!id.is_string()) return Validation("'Expected type string' on property roles.");
    }
    for (const auto& id : body["roles"]) assigned_[user_id].erase(id.get<std::string>());
    return std::nullopt;
}

std::optional<ApiError> UserDirectory::AssignUsersToRole(const std::string& role_id,
                                                         const json& body) {
    // The OAS's AssignRoleUsersRequestContent: {"users": [string]}, required, nothing else. It
    // sets no maximum; 1000 keeps a runaway client's request bounded.
    constexpr std::size_t kMaxUsers = 1000;
    if (auto e = CheckProperties(body, {"users"})) return e;
    auto users = body.find("users");
    if (users == body.end()) return Validation("'Missing required property: users'.");
    if (!users->is_array())
        return Validation("'Expected type array but found type " + std::string(users->type_name()) +
                          "' on property users.");
    if (users->empty()) return Validation("'Array is too short (0), minimum 1' on property users.");
    if (users->size() > kMaxUsers)
        return Validation("'Array is too long (" + std::to_string(users->size()) + "), maximum " +
                          std::to_string(kMaxUsers) + "' on property users.");
    for (const auto& id : *users) {
        if (!id.is_string()) return Validation("'Expected type string' on property users.");
    }
    const bool known =
        std::any_of(roles_.begin(), roles_.end(), [&](const Role& r) { return r.id == role_id; });
    if (!known) return ApiError{404, "Role not found.", "inexistent_role"};
    for (const auto& id : *users) {
        if (!users_.count(id.get<std::string>()))
            return ApiError{404, "One or more of the users do not exist.", "inexistent_user"};
    }
    for (const auto& id : *users) assigned_[id.get<std::string>()].insert(role_id);
    return std::nullopt;
}

std::vector<Role> UserDirectory::RolesOf(const std::string& user_id) const {
    std::vector<Role> out;
    auto it = assigned_.find(user_id);
    if (it == assigned_.end()) return out;
    for (const auto& role : roles_) {
        if (it->second.count(role.id)) out.push_back(role);
    }
    return out;
}

json UserDirectory::Dump() const {
    json all = json::array();
    for (const auto& [id, user] : users_) {
        json copy = user;
        copy["roles"] = json::array();
        for (const auto& role : RolesOf(id)) copy["roles"].push_back(role.name);
        auto blocked = times_blocked_.find(id);
        copy["times_blocked"] = blocked == times_blocked_.end() ? 0 : blocked->second;
        all.push_back(copy);
    }
    return all;
}

}  // namespace auth0_emulator
