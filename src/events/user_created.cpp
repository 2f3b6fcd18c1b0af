// SPDX-License-Identifier: Apache-2.0
// `auth.user_created`: payload, deterministic id and CloudEvents binary-mode headers.
#include "kyc_bridge/events/user_created.hpp"

#include <ctime>

#include <nlohmann/json.hpp>

#include "kyc_bridge/core/ids.hpp"

namespace kyc_bridge::events {

std::string UserCreatedEventId(const std::string& customer_id, const std::string& auth0_user_id,
                               const std::string& reinstated_by) {
    std::string name = customer_id + "|" + auth0_user_id;
    if (!reinstated_by.empty()) name += "|reinstated|" + reinstated_by;
    return core::DeterministicUuid("kyc-bridge/auth.user_created", name);
}

namespace {
std::string IdOf(const UserCreated& e) {
    return UserCreatedEventId(e.customer_id, e.auth0_user_id,
                              e.outcome == "reinstated" ? e.source_event_id : "");
}
}  // namespace

std::string UserBlockedEventId(const std::string& customer_id, const std::string& source_event_id) {
    return core::DeterministicUuid("kyc-bridge/auth.user_blocked", customer_id + "|" + source_event_id);
}

std::string UserBlockedPayload(const UserBlocked& e) {
    nlohmann::json doc = {
        {"event_id", UserBlockedEventId(e.customer_id, e.source_event_id)},
        {"event_type", "auth.user_blocked"},
        {"occurred_at", e.occurred_at},
        {"customer_id", e.customer_id},
        {"auth0_user_id", e.auth0_user_id},
        {"reason", e.reason},
        {"outcome", e.outcome},
        {"source_event_id", e.source_event_id},
    };
    return doc.dump();
}

std::vector<std::pair<std::string, std::string>> UserBlockedHeaders(const UserBlocked& e,
                                                                    const std::string& source) {
    return {
        {"ce_specversion", "1.0"},
        {"ce_id", UserBlockedEventId(e.customer_id, e.source_event_id)},
        {"ce_type", "auth.user_blocked"},
        {"ce_source", source},
        {"ce_time", e.occurred_at},
        {"content-type", "application/json"},
    };
}

std::string UserCreatedPayload(const UserCreated& e) {
    nlohmann::json doc = {
        {"event_id", IdOf(e)},
        {"event_type", "auth.user_created"},
        {"occurred_at", e.occurred_at},
        {"customer_id", e.customer_id},
        {"auth0_user_id", e.auth0_user_id},
        {"roles", e.roles},
        {"outcome", e.outcome},
        {"source_event_id", e.source_event_id},
    };
    return doc.dump();
}

std::vector<std::pair<std::string, std::string>> UserCreatedHeaders(const UserCreated& e,
                                                                    const std::string& source) {
    // CloudEvents Kafka protocol binding 1.0, binary content mode: attributes as ce_-prefixed
    // headers, datacontenttype as content-type.
    return {
        {"ce_specversion", "1.0"},
        {"ce_id", IdOf(e)},
        {"ce_type", "auth.user_created"},
        {"ce_source", source},
        {"ce_time", e.occurred_at},
        {"content-type", "application/json"},
    };
}

std::string FormatRfc3339(long long unix_millis) {
    std::time_t seconds = static_cast<std::time_t>(unix_millis / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buffer[40];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03lldZ", buffer, unix_millis % 1000);
    return out;
}

}  // namespace kyc_bridge::events
