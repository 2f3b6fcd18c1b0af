// SPDX-License-Identifier: Apache-2.0
// Parsing and validation of `customer.kyc_verified`: every rule of the input contract, one place.
//
// Reason codes (Error::code; every one kPermanent), in the order the checks run:
//   too_large               the value is over kMaxEventBytes (64 KiB)
//   invalid_utf8            the value is not well-formed UTF-8 (RFC 3629), anywhere in it
//   not_json                empty, not JSON (a lone surrogate escape included), or not an object
//   too_deep                objects/arrays nest over kMaxEventDepth (32) levels, the event being 1
//   duplicate_key           a key appears twice in one object, at any level
//   trailing_data           anything but JSON whitespace after the object, a NUL byte included
//   missing_field           a required field is absent or null
//   invalid_field           a field is not a string, or its length in code points is out of range
//   control_character       a field holds U+0000–U+001F, U+007F–U+009F, U+2028/U+2029 or a bidi
//                           embedding/override/isolate (U+202A–U+202E, U+2066–U+2069)
//   invalid_event_id        event_id is not 1 to 128 characters
//   wrong_event_type        event_type is not "customer.kyc_verified"
//   invalid_occurred_at     occurred_at is not an RFC 3339 date-time
//   invalid_customer_id     customer_id does not match [A-Za-z0-9_-]{1,64}
//   kyc_not_verified        kyc_status is not "VERIFIED"
//   non_ascii_email_domain  the email's domain is not ASCII: IDNs must arrive as xn-- A-labels
//   invalid_email           the email fails IsPlausibleEmail (a non-ASCII local part included)
//   invalid_phone_number    phone_number is not E.164
//   internal_error          the parser failed (out of memory): not the event's fault
//
// Decisions: unknown members are ignored whatever their type, but count for depth and duplicate
// keys. Markup in names ("<script>") is accepted: it is data, which we never render; whoever
// renders it escapes it. No message ever quotes a value, nor an unknown key.
#include "kyc_bridge/events/kyc_verified.hpp"

#include "kyc_bridge/events/kyc_revoked.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "json_members.hpp"
#include "kyc_bridge/core/ids.hpp"
#include "utf8.hpp"

namespace kyc_bridge::events {
namespace {

using core::Error;
using nlohmann::json;

constexpr std::array<std::string_view, 10> kFields = {
    "event_id", "event_type", "occurred_at", "customer_id",  "kyc_status",
    "email",    "given_name", "family_name", "phone_number", "locale"};

Error Reject(std::string code, std::string message) {
    return Error::Permanent(std::move(message), std::move(code));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool AllDigits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), IsDigit);
}

bool IsValidCustomerId(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(),
                       [](char c) { return IsAsciiAlnum(c) || c == '_' || c == '-'; });
}

// E.164 as Auth0 validates phone_number: ^\+[0-9]{1,15}$ (Management API CreateUserRequestContent).
bool IsE164(std::string_view phone) {
    return phone.size() >= 2 && phone.size() <= 16 && phone[0] == '+' && AllDigits(phone.substr(1));
}

// RFC 5322 §3.2.3 dot-atom: atext runs joined by single dots. Quoted local parts are refused.
bool IsDotAtom(std::string_view local) {
    constexpr std::string_view kAtextSymbols = "!#$%&'*+-/=?^_`{|}~";
    if (local.empty() || local.front() == '.' || local.back() == '.') return false;
    if (local.find("..") != std::string_view::npos) return false;
    return std::all_of(local.begin(), local.end(), [&](char c) {
        return IsAsciiAlnum(c) || c == '.' || kAtextSymbols.find(c) != std::string_view::npos;
    });
}

// RFC 1035 §2.3.1 / RFC 5321 §4.1.2 label: letters, digits, hyphens, 1 to 63 octets, no hyphen
// at either end. A-labels (xn--…) pass as they are.
bool IsDomainLabel(std::string_view label) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
        return false;
    }
    return std::all_of(label.begin(), label.end(),
                       [](char c) { return IsAsciiAlnum(c) || c == '-'; });
}

bool IsAsciiDomain(std::string_view domain) {
    if (domain.size() > 253) return false;
    std::size_t dots = 0;
    std::string_view label;
    for (std::string_view rest = domain;; ++dots) {
        auto dot = rest.find('.');
        label = rest.substr(0, dot);
        if (!IsDomainLabel(label)) return false;
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    return dots >= 1 && !AllDigits(label);  // two labels at least; the last, the TLD, not digits
}

// The domain of a one-'@' address holds a non-ASCII byte: an IDN sent as U-labels, or a
// homoglyph ("exаmple.com" with a Cyrillic а). Auth0 and SMTP want the A-label form.
bool HasNonAsciiDomain(std::string_view email) {
    auto at = email.find('@');
    if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
        return false;
    }
    auto domain = email.substr(at + 1);
    return std::any_of(domain.begin(), domain.end(),
                       [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

Error WrongLength(std::string_view field, std::size_t max_length) {
    return Reject("invalid_field", "field '" + std::string(field) + "' must be 1 to " +
                                       std::to_string(max_length) + " characters");
}

// A present string member, after the checks every field shares; the message names the field.
core::Result<std::optional<std::string>> StringMember(JsonMembers& members,
                                                      std::string_view field) {
    auto it = members.find(field);
    if (it == members.end() || it->second.type == JsonMember::Type::kNull) {
        return std::optional<std::string>{};
    }
    if (it->second.type != JsonMember::Type::kString) {
        return Reject("invalid_field", "field '" + std::string(field) + "' must be a string");
    }
    if (HasControlCharacter(it->second.text)) {
        return Reject("control_character", "field '" + std::string(field) +
                                               "' contains a control, line-separator or bidi-formatting character");
    }
    return std::optional<std::string>{std::move(it->second.text)};
}

core::Result<std::string> RequiredString(JsonMembers& members, std::string_view field) {
    auto value = StringMember(members, field);
    if (!value) return value.error();
    if (!value->has_value()) {
        return Reject("missing_field", "required field '" + std::string(field) + "' is missing");
    }
    return std::move(**value);
}

// Lengths count code points, as Auth0 documents them in characters (CreateUserRequestContent).
core::Result<std::optional<std::string>> OptionalString(JsonMembers& members,
                                                        std::string_view field,
                                                        std::size_t max_length) {
    auto value = StringMember(members, field);
    if (!value || !value->has_value()) return value;
    auto length = CodePointCount(**value);
    if (length == 0 || length > max_length) return WrongLength(field, max_length);
    return value;
}

core::Status CheckEmail(std::string_view email) {
    if (HasNonAsciiDomain(email)) {
        return Reject("non_ascii_email_domain",
                      "email domain is not ASCII; send an IDN domain in its xn-- (punycode) form");
    }
    if (!IsPlausibleEmail(email)) return Reject("invalid_email", "email is not a valid address");
    return {};
}

core::Status CheckRequiredValues(const KycVerified& e) {
    auto event_id_length = CodePointCount(e.event_id);
    if (event_id_length == 0 || event_id_length > 128) {
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
    if (auto email = CheckEmail(e.email); !email) return email;
    if (e.phone_number && !IsE164(*e.phone_number)) {
        return Reject("invalid_phone_number", "phone_number must be E.164 (+ and 1 to 15 digits)");
    }
    return {};
}

core::Result<KycVerified> Parse(std::string_view payload) {
    if (payload.size() > kMaxEventBytes) {
        return Reject("too_large", "event is " + std::to_string(payload.size()) +
                                       " bytes, larger than the 65536 byte limit");
    }
    auto members = ReadJsonMembers(payload, kFields, kMaxEventDepth);
    if (!members) return members.error();

    KycVerified e;
    struct Required { std::string_view name; std::string* target; };
    for (auto [name, target] : {Required{"event_id", &e.event_id},
                                Required{"event_type", &e.event_type},
                                Required{"occurred_at", &e.occurred_at},
                                Required{"customer_id", &e.customer_id},
                                Required{"kyc_status", &e.kyc_status},
                                Required{"email", &e.email}}) {
        auto value = RequiredString(*members, name);
        if (!value) return value.error();
        *target = std::move(value.value());
    }
    struct Optional { std::string_view name; std::optional<std::string>* target; std::size_t max; };
    // Auth0 limits given_name/family_name to 1–150 characters (CreateUserRequestContent).
    for (auto [name, target, max] : {Optional{"given_name", &e.given_name, 150},
                                     Optional{"family_name", &e.family_name, 150},
                                     Optional{"phone_number", &e.phone_number, 16},
                                     Optional{"locale", &e.locale, 35}}) {
        auto value = OptionalString(*members, name, max);
        if (!value) return value.error();
        *target = std::move(value.value());
    }
    if (auto valid = CheckRequiredValues(e); !valid) return valid.error();
    e.email = core::AsciiLower(e.email);
    return e;
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
    auto two_digits = [&](std::size_t pos) { return (t[pos] - '0') * 10 + (t[pos + 1] - '0'); };
    int month = two_digits(5);
    int day = two_digits(8);
    if (month < 1 || month > 12 || day < 1 || day > 31 || two_digits(11) > 23 ||
        two_digits(14) > 59 || two_digits(17) > 60) {
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
    if (email.size() > 254) return false;  // RFC 5321 §4.5.3.1.3: a 256-octet path, less "<>"
    auto at = email.find('@');
    if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
        return false;
    }
    auto local = email.substr(0, at);  // RFC 5321 §4.5.3.1.1: 64 octets at most
    return local.size() <= 64 && IsDotAtom(local) && IsAsciiDomain(email.substr(at + 1));
}

core::Result<KycVerified> ParseKycVerified(std::string_view payload) {
    try {
        return Parse(payload);
    } catch (...) {  // std::bad_alloc in practice; nothing may escape into a Kafka callback
        return Reject("internal_error",
                      "the event parser failed (out of memory?); replay the event once the daemon "
                      "has memory to spare");
    }
}

// --- customer.kyc_revoked -----------------------------------------------------------------------

namespace {

constexpr std::array<std::string_view, 5> kRevokedFields = {"event_id", "event_type", "occurred_at",
                                                            "customer_id", "reason"};

bool IsReasonCode(std::string_view reason) {
    return !reason.empty() && reason.size() <= 64 &&
           std::all_of(reason.begin(), reason.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || IsDigit(c) || c == '_';
           });
}

core::Result<KycRevoked> ParseRevoked(std::string_view payload) {
    if (payload.size() > kMaxEventBytes) {
        return Reject("too_large", "event is " + std::to_string(payload.size()) +
                                       " bytes, larger than the 65536 byte limit");
    }
    auto members = ReadJsonMembers(payload, kRevokedFields, kMaxEventDepth);
    if (!members) return members.error();
    KycRevoked e;
    struct Required { std::string_view name; std::string* target; };
    for (auto [name, target] : {Required{"event_id", &e.event_id},
                                Required{"event_type", &e.event_type},
                                Required{"occurred_at", &e.occurred_at},
                                Required{"customer_id", &e.customer_id},
                                Required{"reason", &e.reason}}) {
        auto value = RequiredString(*members, name);
        if (!value) return value.error();
        *target = std::move(value.value());
    }
    auto event_id_length = CodePointCount(e.event_id);
    if (event_id_length == 0 || event_id_length > 128) {
        return Reject("invalid_event_id", "event_id must be 1 to 128 characters");
    }
    if (e.event_type != "customer.kyc_revoked") {
        return Reject("wrong_event_type", "event_type must be 'customer.kyc_revoked'");
    }
    if (!IsRfc3339(e.occurred_at)) {
        return Reject("invalid_occurred_at", "occurred_at is not an RFC 3339 date-time");
    }
    if (!IsValidCustomerId(e.customer_id)) {
        return Reject("invalid_customer_id", "customer_id must match [A-Za-z0-9_-]{1,64}");
    }
    if (!IsReasonCode(e.reason)) {
        return Reject("invalid_reason", "reason must be a short code matching [a-z0-9_]{1,64}");
    }
    return e;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

core::Result<KycRevoked> ParseKycRevoked(std::string_view payload) {
    try {
        return ParseRevoked(payload);
    } catch (...) {
        return Reject("internal_error", "the event parser failed (out of memory?)");
    }
}

std::string ToJson(const KycRevoked& e) {
    return json{{"event_id", e.event_id},       {"event_type", e.event_type},
                {"occurred_at", e.occurred_at}, {"customer_id", e.customer_id},
                {"reason", e.reason}}
        .dump();
}

std::int64_t OccurredAtMillis(std::string_view t) {
    if (!IsRfc3339(t)) return 0;
    auto num = [&](std::size_t pos, std::size_t count) {
        std::int64_t v = 0;
        for (std::size_t i = pos; i < pos + count; ++i) v = v * 10 + (t[i] - '0');
        return v;
    };
    std::int64_t days = DaysFromCivil(num(0, 4), static_cast<unsigned>(num(5, 2)),
                                      static_cast<unsigned>(num(8, 2)));
    std::int64_t ms = ((days * 24 + num(11, 2)) * 60 + num(14, 2)) * 60 * 1000 + num(17, 2) * 1000;
    std::size_t pos = 19;
    if (pos < t.size() && t[pos] == '.') {
        std::int64_t scale = 100;
        for (++pos; pos < t.size() && IsDigit(t[pos]); ++pos) {
            if (scale > 0) ms += (t[pos] - '0') * scale;
            scale /= 10;
        }
    }
    if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
        const std::int64_t offset = (num(pos + 1, 2) * 60 + num(pos + 4, 2)) * 60 * 1000;
        ms += t[pos] == '+' ? -offset : offset;
    }
    return ms;
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
