// SPDX-License-Identifier: Apache-2.0
// The output contract: an `auth.user_created` event with CloudEvents 1.0 binary-mode headers.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kyc_bridge::events {

struct UserCreated {
    std::string customer_id;
    std::string auth0_user_id;
    std::vector<std::string> roles;
    std::string outcome;          ///< "created" or "existing"
    std::string source_event_id;  ///< the kyc_verified event that led to it
    std::string occurred_at;      ///< RFC 3339 UTC, when provisioning completed
};

/// The deterministic event id: the same customer and Auth0 user always give the same id, so a
/// re-sent outbox row or a re-provisioned customer never looks like a new event downstream.
std::string UserCreatedEventId(const std::string& customer_id, const std::string& auth0_user_id);

/// The Kafka value (JSON) of the event.
std::string UserCreatedPayload(const UserCreated& event);

/// CloudEvents 1.0 Kafka protocol binding, binary mode: ce_specversion, ce_id, ce_type,
/// ce_source, ce_time, content-type.
std::vector<std::pair<std::string, std::string>> UserCreatedHeaders(const UserCreated& event,
                                                                    const std::string& source);

/// Formats a time as RFC 3339 UTC with milliseconds ("2026-11-22T10:00:00.000Z").
std::string FormatRfc3339(long long unix_millis);

}  // namespace kyc_bridge::events
