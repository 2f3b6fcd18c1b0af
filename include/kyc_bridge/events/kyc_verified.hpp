// SPDX-License-Identifier: Apache-2.0
// The input contract: a `customer.kyc_verified` event, parsed and validated.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::events {

/// Largest accepted event value; larger ones are rejected before parsing.
inline constexpr std::size_t kMaxEventBytes = 64 * 1024;

/// Deepest accepted nesting of JSON objects and arrays; the event object itself is level 1.
inline constexpr std::size_t kMaxEventDepth = 32;

/// A validated `customer.kyc_verified` event. `email` is already lower-cased, as Auth0 stores it.
struct KycVerified {
    std::string event_id;                     ///< 1 to 128 characters
    std::string event_type;                   ///< always "customer.kyc_verified"
    std::string occurred_at;                  ///< RFC 3339, as received
    std::string customer_id;                  ///< [A-Za-z0-9_-]{1,64}
    std::string kyc_status;                   ///< always "VERIFIED"
    std::string email;                        ///< see IsPlausibleEmail; the domain is ASCII
    std::optional<std::string> given_name;    ///< 1 to 150 characters
    std::optional<std::string> family_name;   ///< 1 to 150 characters
    std::optional<std::string> phone_number;  ///< E.164
    std::optional<std::string> locale;        ///< 1 to 35 characters

    bool operator==(const KycVerified&) const = default;
};

/// Parses and validates one event value. On failure the Error is kPermanent, `code` one slug
/// below and `message` the reason, which names the field but never echoes a value. Never throws.
///
/// The value: too_large (over kMaxEventBytes), invalid_utf8 (not UTF-8 as a whole), not_json
/// (empty, not JSON, or not an object), too_deep (over kMaxEventDepth), duplicate_key (a key twice
/// in one object, at any level), trailing_data (anything but JSON whitespace after the object,
/// a NUL included). The fields: missing_field, invalid_field (not a string, or a length out of
/// range: lengths count Unicode code points), control_character (U+0000–U+001F, U+007F–U+009F,
/// U+2028, U+2029 or a bidi embedding/override/isolate U+202A–U+202E, U+2066–U+2069 in a
/// field above), invalid_event_id, wrong_event_type, invalid_occurred_at, invalid_customer_id,
/// kyc_not_verified, non_ascii_email_domain (IDN domains must arrive as xn-- A-labels),
/// invalid_email, invalid_phone_number. internal_error: the parser itself failed (out of memory).
/// Unknown members are ignored, whatever their type, within the depth and duplicate-key rules.
core::Result<KycVerified> ParseKycVerified(std::string_view payload);

/// Serializes an event back to its JSON form (for the inbox and tests).
std::string ToJson(const KycVerified& event);

/// True if `text` is an RFC 3339 date-time ("2026-11-22T10:00:00Z", fractions and offsets allowed).
bool IsRfc3339(std::string_view text);

/// True if `text` is an address Auth0 will accept, by RFC 5321's limits: local@domain, ≤ 254
/// octets; the local part a dot-atom of ASCII atext, ≤ 64 octets (no quoted forms); the domain
/// ASCII, ≤ 253 octets, two or more labels of 1 to 63 [A-Za-z0-9-] that neither start nor end
/// with '-', the last one not all digits.
bool IsPlausibleEmail(std::string_view text);

}  // namespace kyc_bridge::events
