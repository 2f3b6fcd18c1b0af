// SPDX-License-Identifier: Apache-2.0
// The lifecycle's other half: a `customer.kyc_revoked` event, parsed and validated.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::events {

/// A validated `customer.kyc_revoked` event: compliance revoked the customer's KYC (fraud,
/// expired documents, a sanctions hit); their login must be blocked.
struct KycRevoked {
    std::string event_id;
    std::string event_type;   ///< always "customer.kyc_revoked"
    std::string occurred_at;  ///< RFC 3339, as received
    std::string customer_id;  ///< [A-Za-z0-9_-]{1,64}
    std::string reason;       ///< a short code, [a-z0-9_]{1,64}: never free text

    bool operator==(const KycRevoked&) const = default;
};

/// Parses and validates one event value with the same framing rules as ParseKycVerified (size,
/// depth, duplicate keys, UTF-8, trailing bytes) and the same reason codes; `reason` that is
/// not a short code is `invalid_reason` (free text could carry personal data). Never throws.
core::Result<KycRevoked> ParseKycRevoked(std::string_view payload);

/// Serializes an event back to its JSON form (for the inbox and tests).
std::string ToJson(const KycRevoked& event);

/// `occurred_at` (RFC 3339, any offset, fractions to milliseconds) as Unix milliseconds, for
/// ordering a customer's events; 0 if it does not parse.
std::int64_t OccurredAtMillis(std::string_view rfc3339);

}  // namespace kyc_bridge::events
