// SPDX-License-Identifier: Apache-2.0
// Plain values the store takes and returns: inbound batches, outbox rows, ops listings, counters.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kyc_bridge/events/kyc_revoked.hpp"
#include "kyc_bridge/events/kyc_verified.hpp"
#include "kyc_bridge/provision/job.hpp"

namespace kyc_bridge::store {

/// Where an inbound Kafka message came from.
struct Origin {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
};

struct RejectedEvent;

/// The reason an event whose event_id is known with another payload is rejected for.
inline constexpr const char* kEventIdConflictReason =
    "event_id_conflict: event_id was seen before with a different payload";

/// A valid event to put in the inbox (and create a job for, unless its event_id is known).
struct AcceptedEvent {
    Origin origin;
    events::KycVerified event;
    /// Called (inside Ingest's transaction) if the event_id is known with another payload: the
    /// message is then rejected with the reason given, like a poison one. Unset: only counted.
    std::function<RejectedEvent(const std::string& reason)> on_conflict;
    /// Set for a customer.kyc_revoked event: the inbox keeps it and the job deprovisions.
    /// `event` then carries only its event_id, event_type, occurred_at and customer_id.
    std::optional<events::KycRevoked> revoked;
};

/// A poison message: recorded with its reason, and its dead letter queued in the outbox.
struct RejectedEvent {
    Origin origin;
    std::string reason;  ///< "code: message", never personal data
    provision::OutboundEvent dead_letter;
    std::string payload;  ///< the raw value, kept (truncated) for `rejected show/replay`
};

struct IngestSummary {
    int accepted = 0;    ///< new inbox rows (and jobs)
    int duplicates = 0;  ///< event_ids already in the inbox with the same payload: no job
    int rejected = 0;    ///< new rejected rows: a redelivered poison message counts once
    int conflicts = 0;   ///< event_ids known with another payload (rejected too, see above)
};

/// What `purge` erased (or, dry, would erase): personal fields of rejected events and of
/// failed jobs older than the cut-off.
struct PurgeSummary {
    std::int64_t rejected = 0;
    std::int64_t failed_jobs = 0;
};

struct OutboxRow {
    std::int64_t seq = 0;  ///< insertion order, the relay's cursor
    provision::OutboundEvent event;
};

/// An outbox row the relay gave up on (the broker refused it for good), kept for ops.
struct SetAsideRow {
    std::int64_t seq = 0;
    std::string event_id;
    std::string topic;
    std::string reason;  ///< the producer's error, never payload
    std::int64_t set_aside_at_ms = 0;
};

/// A job as the ops CLI lists it.
struct JobSummary {
    std::int64_t job_id = 0;
    std::string event_id;
    std::string customer_id;
    std::string state;
    int attempts = 0;
    std::string last_error;       ///< "kind: message", as the daemon logs it
    std::string last_error_kind;  ///< the failure class alone ("permanent", …), empty if none
    std::string last_error_message;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;  ///< for a failed job: when it failed
    std::string kind;     ///< "verify" (customer.kyc_verified) or "revoke" (customer.kyc_revoked)
    std::string outcome;  ///< once done: created, reinstated, blocked, not_found, superseded, …
};

/// Which failed jobs `failed list` and `replay --all-failed` mean; empty fields match all.
struct FailedFilter {
    std::int64_t since_ms = 0;  ///< failed at or after this time (Unix ms)
    std::string error_class;    ///< last_error_kind
    std::string customer_id;
    std::size_t limit = 1000;
};

/// One failed attempt of a job, written with the reschedule or failure that ended it.
struct AttemptRecord {
    int attempt = 0;
    std::string kind;
    std::string code;
    std::string message;  ///< free of personal data by contract (core::Error)
    std::int64_t at_ms = 0;
};

/// A job with what it has done so far, for `failed show`.
struct JobDetail {
    JobSummary job;
    int conflict_attempts = 0;
    bool profile_applied = false;
    std::int64_t next_attempt_at_ms = 0;
    std::optional<provision::CustomerAccount> account;  ///< the customer's recorded steps
    std::vector<AttemptRecord> attempts;                ///< oldest first
};

/// Who does an ops action and why; written to the audit table with it.
struct AuditContext {
    std::string action;  ///< "replay", "rejected replay", …
    std::string reason;
    std::string os_user;
    std::string host;
};

struct AuditRow {
    std::int64_t id = 0;
    std::int64_t at_ms = 0;
    std::string action;
    std::optional<std::int64_t> job_id;
    std::string event_ref;  ///< an event id or a rejected row ("rejected:<id>")
    std::string reason;
    std::string os_user;
    std::string host;
};

/// The most recent error of one failure class among failed and pending jobs.
struct LastErrorOfKind {
    std::string kind;
    std::string message;
    std::int64_t job_id = 0;
    std::int64_t at_ms = 0;
};

/// A value the daemon recorded for ops (e.g. "quarantine").
struct DaemonStateValue {
    std::string value;
    std::int64_t updated_at_ms = 0;
};

struct RejectedSummary {
    std::int64_t id = 0;  ///< for `rejected replay`
    Origin origin;
    std::string event_id;  ///< empty when the payload had none
    std::string reason;
    std::int64_t rejected_at_ms = 0;
};

/// A rejected message with its stored (possibly truncated) raw value.
struct RejectedRow {
    RejectedSummary summary;
    std::string payload;
    bool truncated = false;  ///< the raw value was longer than the store keeps: not replayable
};

/// Group commit: a write transaction starts when the first queued write has waited
/// `commit_interval` or `commit_max_records` writes are waiting, whichever comes first.
struct StoreOptions {
    std::chrono::milliseconds commit_interval{2};
    std::size_t commit_max_records = 64;
    /// kOpenExisting (the ops CLI): a missing file is a StoreError, never a new empty store.
    enum class Open { kCreate, kOpenExisting } open = Open::kCreate;
    /// Told each committed transaction's duration (BEGIN to COMMIT returning), on the writer
    /// thread; must not block. For the commit-duration histogram.
    std::function<void(std::chrono::microseconds)> on_commit;
    /// A store file that group or others can read is refused (StoreError) instead of warned of.
    bool strict_modes = false;
};

/// Counters of the writer, for the metrics layer. Plain atomics: each is exact, but a reader may
/// see one updated before another. All are updated before the transaction's callbacks run.
struct StoreStats {
    std::atomic<std::uint64_t> transactions_committed{0};
    std::atomic<std::uint64_t> records_committed{0};  ///< writes that succeeded in them
    std::atomic<std::uint64_t> commit_failures{0};    ///< transactions that failed as a whole
    /// From BEGIN to COMMIT returning (the write lock held, fsync included), committed ones.
    std::atomic<std::uint64_t> commit_micros_total{0};
    std::atomic<std::uint64_t> last_commit_micros{0};
    std::atomic<std::uint64_t> max_records_per_transaction{0};
    std::atomic<bool> last_commit_ok{true};  ///< the latest transaction committed (for /readyz)
    /// Non-zero: SQLite's extended code of an error retrying cannot heal (the file is corrupt,
    /// not a database, read-only, a constraint broken, or the disk full for many commits in a
    /// row). The daemon stops on it; set once, never cleared.
    std::atomic<int> unrecoverable_code{0};
    std::atomic<std::uint64_t> personal_data_erased{0};  ///< inbox payloads erased after done
};

}  // namespace kyc_bridge::store
