// SPDX-License-Identifier: Apache-2.0
// Parsing and validation of `customer.kyc_verified`: every rule of the input contract, one place.
#include "kyc_bridge/events/kyc_verified.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "kyc_bridge/core/ids.hpp"

namespace kyc_bridge::events {
namespace {

using core::Error;
using nlohmann::json;

Error Reject(std::string code, std::string message) {
    return Error::Permanent(std::move(message), std::move(code));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), IsDigit);
}

bool IsValidCustomerId(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

// E.164 as Auth0 validates phone_number: ^\+[0-9]{1,15}$ (Management API CreateUserRequestContent).
bool IsE164(std::string_view phone) {
    return phone.size() >= 2 && phone.size() <= 16 && phone[0] == '+' && AllDigits(phone.substr(1));
}

// Reads a required string field; the message names the field, never its value.
core::Result<std::string> RequiredString(const json& doc, const char* field) {
    auto it = doc.find(field);
    if (it == doc.end() || it->is_null()) {
        return Reject("missing_field", std::string("required field '") + field + "' is missing");
    }
    if (!it->is_string()) {
        return Reject("invalid_field", std::string("field '") + field + "' must be a string");
    }
    return it->get<std::string>();
}

core::Result<std::optional<std::string>> OptionalString(const json& doc, const char* field,
                                                        std::size_t max_length) {
    auto it = doc.find(field);
    if (it == doc.end() || it->is_null()) return std::optional<std::string>{};
    if (!it->is_string()) {
        return Reject("invalid_field", std::string("field '") + field + "' must be a string");
    }
    auto value = it->get<std::string>();
    if (value.empty() || value.size() > max_length) {
        return Reject("invalid_field", std::string("field '") + field + "' must be 1 to " +
                                           std::to_string(max_length) + " characters");
    }
    return std::optional<std::string>{std::move(value)};
}

core::Status CheckRequiredValues(const KycVerified& e) {
    if (e.event_id.empty() || e.event_id.size() > 128) {
        return Reject("invalid_event_id", "event_id must be 1 to 128 characters");
    }
    if (e.event_type != "customer.kyc_verified") {
        return Reject("wrong_event_type", "event_type must be 'customer.kyc_verified'");
    }
    if (!IsRfc3339(e.occurred_at)) {
        return Reject("invalid_occurred_at", "occurred_at is not an RFC 3339 date-time");
    }
    if (!IsValidCustomerId(e.customer_id)) {
        return Reject("invalid_customer_id", "customer_id must match [A-Za-z0-9_-]{1,64}");
    }
    if (e.kyc_status != "VERIFIED") {
        return Reject("kyc_not_verified", "kyc_status must be 'VERIFIED'");
    }
    if (!IsPlausibleEmail(e.email)) {
        return Reject("invalid_email", "email is not a valid address");
    }
    if (e.phone_number && !IsE164(*e.phone_number)) {
        return Reject("invalid_phone_number", "phone_number must be E.164 (+ and 1 to 15 digits)");
    }
    return {};
}

}  // namespace

bool IsRfc3339(std::string_view t) {
    // date-time = full-date "T" partial-time time-offset (RFC 3339 §5.6); 't' and ' ' not accepted.
    if (t.size() < 20) return false;
    auto digits_at = [&](std::size_t pos, std::size_t count) {
        return pos + count <= t.size() && AllDigits(t.substr(pos, count));
    };
    if (!digits_at(0, 4) || t[4] != '-' || !digits_at(5, 2) || t[7] != '-' || !digits_at(8, 2) ||
        (t[10] != 'T') || !digits_at(11, 2) || t[13] != ':' || !digits_at(14, 2) || t[16] != ':' ||
        !digits_at(17, 2)) {
        return false;
    }
    int month = std::stoi(std::string(t.substr(5, 2)));
    int day = std::stoi(std::string(t.substr(8, 2)));
    int hour = std::stoi(std::string(t.substr(11, 2)));
    int minute = std::stoi(std::string(t.substr(14, 2)));
    int second = std::stoi(std::string(t.substr(17, 2)));
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
        return false;
    }
    std::size_t pos = 19;
    if (pos < t.size() && t[pos] == '.') {
        std::size_t start = ++pos;
        while (pos < t.size() && IsDigit(t[pos])) ++pos;
        if (pos == start) return false;
    }
    if (pos < t.size() && t[pos] == 'Z') return pos + 1 == t.size();
    if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
        return pos + 6 == t.size() && digits_at(pos + 1, 2) && t[pos + 3] == ':' &&
               digits_at(pos + 4, 2);
    }
    return false;
}

bool IsPlausibleEmail(std::string_view email) {
    if (email.size() < 3 || email.size() > 254) return false;
    auto at = email.find('@');
    if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos) {
        return false;
    }
    auto local = email.substr(0, at);
    auto domain = email.substr(at + 1);
    if (local.size() > 64 || domain.size() < 3) return false;
    auto dot = domain.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 2 > domain.size()) return false;
    if (domain.find("..") != std::string_view::npos || domain.front() == '-') return false;
    return std::none_of(email.begin(), email.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f || c == ',' || c == ';' || c == '<' || c == '>' || c == '"' ||
               c == '(' || c == ')' || c == '[' || c == ']' || c == '\\';
    });
}

core::Result<KycVerified> ParseKycVerified(std::string_view payload) {
    if (payload.size() > kMaxEventBytes) {
        return Reject("too_large", "event is " + std::to_string(payload.size()) +
                                       " bytes, larger than the 65536 byte limit");
    }
    json doc = json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Reject("not_json", "event value is not valid JSON");
    if (!doc.is_object()) return Reject("not_json", "event value is not a JSON object");

    KycVerified e;
    struct Required { const char* name; std::string* target; };
    for (auto [name, target] : {Required{"event_id", &e.event_id},
                                Required{"event_type", &e.event_type},
                                Required{"occurred_at", &e.occurred_at},
                                Required{"customer_id", &e.customer_id},
                                Required{"kyc_status", &e.kyc_status},
                                Required{"email", &e.email}}) {
        auto value = RequiredString(doc, name);
        if (!value) return value.error();
        *target = std::move(value.value());
    }
    struct Optional { const char* name; std::optional<std::string>* target; std::size_t max; };
    // Auth0 limits given_name/family_name to 1–150 characters (CreateUserRequestContent).
    for (auto [name, target, max] : {Optional{"given_name", &e.given_name, 150},
                                     Optional{"family_name", &e.family_name, 150},
                                     Optional{"phone_number", &e.phone_number, 16},
                                     Optional{"locale", &e.locale, 35}}) {
        auto value = OptionalString(doc, name, max);
        if (!value) return value.error();
        *target = std::move(value.value());
    }
    if (auto valid = CheckRequiredValues(e); !valid) return valid.error();
    e.email = core::AsciiLower(e.email);
    return e;
}

std::string ToJson(const KycVerified& e) {
    json doc = {{"event_id", e.event_id},       {"event_type", e.event_type},
                {"occurred_at", e.occurred_at}, {"customer_id", e.customer_id},
                {"kyc_status", e.kyc_status},   {"email", e.email}};
    if (e.given_name) doc["given_name"] = *e.given_name;
    if (e.family_name) doc["family_name"] = *e.family_name;
    if (e.phone_number) doc["phone_number"] = *e.phone_number;
    if (e.locale) doc["locale"] = *e.locale;
    return doc.dump();
}

}  // namespace kyc_bridge::events
