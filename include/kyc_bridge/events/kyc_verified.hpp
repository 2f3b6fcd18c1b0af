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

/// A validated `customer.kyc_verified` event. `email` is already lower-cased, as Auth0 stores it.
struct KycVerified {
    std::string event_id;
    std::string event_type;   ///< always "customer.kyc_verified"
    std::string occurred_at;  ///< RFC 3339, as received
    std::string customer_id;  ///< [A-Za-z0-9_-]{1,64}
    std::string kyc_status;   ///< always "VERIFIED"
    std::string email;
    std::optional<std::string> given_name;
    std::optional<std::string> family_name;
    std::optional<std::string> phone_number;
    std::optional<std::string> locale;

    bool operator==(const KycVerified&) const = default;
};

/// Parses and validates one event value. On failure the Error is kPermanent, `code` a short slug
/// (e.g. "not_json", "missing_field", "invalid_email") and `message` the reason, which names the
/// field but never echoes personal data. Never throws.
core::Result<KycVerified> ParseKycVerified(std::string_view payload);

/// Serializes an event back to its JSON form (for the inbox and tests).
std::string ToJson(const KycVerified& event);

/// True if `text` is an RFC 3339 date-time ("2026-11-22T10:00:00Z", fractions and offsets allowed).
bool IsRfc3339(std::string_view text);

/// True if `text` looks like an address Auth0 will accept (local@domain.tld, no spaces, ≤ 254).
bool IsPlausibleEmail(std::string_view text);

}  // namespace kyc_bridge::events
