// SPDX-License-Identifier: Apache-2.0
// Plain values of the provisioning state: jobs, what is known per customer, outbound events.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kyc_bridge/core/error.hpp"
#include "kyc_bridge/events/kyc_verified.hpp"

namespace kyc_bridge::provision {

enum class JobState { kPending, kDone, kFailed };
std::string_view ToString(JobState state);  // "pending", "done", "failed"

/// What a job does: provision (customer.kyc_verified) or deprovision (customer.kyc_revoked).
enum class JobKind { kVerify, kRevoke };

/// One accepted event to act on. Jobs of one customer run one at a time, in inbox order; the
/// newest event applied wins (an older one is superseded).
struct Job {
    std::int64_t job_id = 0;
    JobKind kind = JobKind::kVerify;
    /// The event; for a revoke only event_id, event_type, occurred_at and customer_id are set.
    events::KycVerified event;
    std::string revoke_reason;  ///< kRevoke: the reason code
    JobState state = JobState::kPending;
    int attempts = 0;              ///< failed attempts so far
    int conflict_attempts = 0;     ///< of which unresolved 409s
    core::TimePoint created_at;    ///< when the event became durable
    core::TimePoint next_attempt_at;
    bool profile_applied = false;  ///< this job's PATCH step is recorded
    std::string last_error;        ///< "kind: message", empty if none
};

/// What is recorded about one customer's Auth0 account; each flag is one completed Auth0 step.
struct CustomerAccount {
    std::string customer_id;
    std::string auth0_user_id;  ///< empty until created or adopted
    std::string outcome;        ///< "created" or "existing"; empty until known
    bool roles_assigned = false;
    /// The password email's two-phase record: `sending` is durable before the change_password
    /// call, `sent` after it. Sending and not sent = the call's effect is unknown (a crash, or a
    /// timed-out call): the email may be repeated.
    bool password_email_sending = false;
    bool password_setup_sent = false;
    bool published = false;     ///< its auth.user_created is in the outbox
    bool blocked = false;       ///< kyc-bridge blocked the user on a revocation
    /// occurred_at (Unix ms) of the newest event applied for this customer; an older one is
    /// superseded. 0 before the first.
    std::int64_t last_applied_ms = 0;
};

/// A message to publish through the outbox (auth.user_created or a dead letter).
struct OutboundEvent {
    std::string event_id;  ///< deterministic; the outbox primary key, so a re-insert is a no-op
    std::string topic;
    std::string key;
    std::string payload;
    std::vector<std::pair<std::string, std::string>> headers;
    /// An auth.user_created: completing the job marks the customer published. False for
    /// auth.user_blocked and dead letters.
    bool announces_user = true;
};

}  // namespace kyc_bridge::provision
