// SPDX-License-Identifier: Apache-2.0
// Plain values the store takes and returns: inbound batches, outbox rows, ops listings, counters.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "kyc_bridge/events/kyc_verified.hpp"
#include "kyc_bridge/provision/job.hpp"

namespace kyc_bridge::store {

/// Where an inbound Kafka message came from.
struct Origin {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
};

/// A valid event to put in the inbox (and create a job for, unless its event_id is known).
struct AcceptedEvent {
    Origin origin;
    events::KycVerified event;
};

/// A poison message: recorded with its reason, and its dead letter queued in the outbox.
struct RejectedEvent {
    Origin origin;
    std::string reason;  ///< "code: message", never personal data
    provision::OutboundEvent dead_letter;
};

struct IngestSummary {
    int accepted = 0;    ///< new inbox rows (and jobs)
    int duplicates = 0;  ///< event_ids already in the inbox: no job, no Auth0 call
    int rejected = 0;    ///< new rejected rows: a redelivered poison message counts once
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
    std::string last_error;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
};

struct RejectedSummary {
    Origin origin;
    std::string event_id;  ///< empty when the payload had none
    std::string reason;
    std::int64_t rejected_at_ms = 0;
};

/// Group commit: a write transaction starts when the first queued write has waited
/// `commit_interval` or `commit_max_records` writes are waiting, whichever comes first.
struct StoreOptions {
    std::chrono::milliseconds commit_interval{2};
    std::size_t commit_max_records = 64;
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
};

}  // namespace kyc_bridge::store
