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
    std::string outcome;          ///< "created", "existing", "updated" or "reinstated"
    std::string source_event_id;  ///< the kyc_verified event that led to it
    std::string occurred_at;      ///< RFC 3339 UTC, when provisioning completed
};

/// The deterministic event id: the same customer and Auth0 user always give the same id, so a
/// re-sent outbox row or a re-provisioned customer never looks like a new event downstream.
/// A reinstatement (a verify after a revoke) is a new fact: its id also derives from the event
/// that reinstated the user (`reinstated_by`), so each reinstatement is published once.
std::string UserCreatedEventId(const std::string& customer_id, const std::string& auth0_user_id,
                               const std::string& reinstated_by = "");

/// `auth.user_blocked`: a revoked customer's user was blocked (outcome "blocked"), or there was
/// no user to block ("not_found").
struct UserBlocked {
    std::string customer_id;
    std::string auth0_user_id;    ///< empty for not_found
    std::string reason;           ///< the revocation's reason code
    std::string outcome;          ///< "blocked" or "not_found"
    std::string source_event_id;  ///< the kyc_revoked event
    std::string occurred_at;      ///< RFC 3339 UTC, when the block completed
};

/// Derived like UserCreatedEventId, from the customer and the revoke event: a redelivered
/// revoke, or a job run again after a crash, publishes the same id.
std::string UserBlockedEventId(const std::string& customer_id, const std::string& source_event_id);
std::string UserBlockedPayload(const UserBlocked& event);
/// CloudEvents binary-mode headers, as for auth.user_created.
std::vector<std::pair<std::string, std::string>> UserBlockedHeaders(const UserBlocked& event,
                                                                    const std::string& source);

/// The Kafka value (JSON) of the event.
std::string UserCreatedPayload(const UserCreated& event);

/// CloudEvents 1.0 Kafka protocol binding, binary mode: ce_specversion, ce_id, ce_type,
/// ce_source, ce_time, content-type.
std::vector<std::pair<std::string, std::string>> UserCreatedHeaders(const UserCreated& event,
                                                                    const std::string& source);

/// Formats a time as RFC 3339 UTC with milliseconds ("2026-11-22T10:00:00.000Z").
std::string FormatRfc3339(long long unix_millis);

}  // namespace kyc_bridge::events
