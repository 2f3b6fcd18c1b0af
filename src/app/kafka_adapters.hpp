// SPDX-License-Identifier: Apache-2.0
// Glue between the Kafka module and the pipeline: poison handling and the relay's sink.
#pragma once

#include <string>
#include <vector>

#include "kyc_bridge/kafka/kafka.hpp"
#include "kyc_bridge/relay/relay.hpp"
#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::app {

/// Where dead letters go and how large they may be.
struct DeadLetterSettings {
    std::string topic;
    std::size_t max_bytes = 64 * 1024;  ///< kafka.dead_letter_max_bytes: value + headers
    /// Messages of this topic are customer.kyc_revoked events; all others kyc_verified.
    std::string revoked_topic = "customer.kyc_revoked";
};

/// The dead letter of a rejected message, with an event_id derived from its
/// topic/partition/offset so a redelivered poison message queues one dead letter:
/// - headers `kyc_bridge_error` (the reason) and `kyc_bridge_source` (topic/partition/offset);
/// - the original key, value and headers, except input headers named `kyc_bridge_*` (a
///   producer cannot forge ours);
/// - if value and headers together exceed `max_bytes`: the value cut to what fits (input
///   headers dropped first), plus `kyc_bridge_truncated` (the original size in bytes) and
///   `kyc_bridge_original_sha256`, so a poison event can never be too large to produce and
///   block the relay.
provision::OutboundEvent DeadLetterFor(const kafka::Message& message, const std::string& reason,
                                       const DeadLetterSettings& settings);

/// Splits a consumer batch into valid events and rejected ones (with reasons and dead letters).
/// A tombstone (null value) and an empty value are rejected with their own reasons. Accepted
/// events carry a maker of the dead letter to use should their event_id turn out to be taken
/// by another payload (event_id_conflict); it refers to `batch` and `dead_letters`, so it may
/// be called only while both live (store::Store::Ingest of the same batch).
void SortBatch(const std::vector<kafka::Message>& batch, const DeadLetterSettings& dead_letters,
               std::vector<store::AcceptedEvent>& accepted,
               std::vector<store::RejectedEvent>& rejected);

/// The relay's sink on an idempotent producer.
class ProducerSink final : public relay::MessageSink {
public:
    explicit ProducerSink(kafka::Producer& producer) : producer_(producer) {}
    relay::SendResult Send(const provision::OutboundEvent& event, std::uint64_t seq,
                           std::string& rejection) override;
    std::vector<relay::Delivery> Poll(std::chrono::milliseconds timeout) override;

private:
    kafka::Producer& producer_;
};

}  // namespace kyc_bridge::app
