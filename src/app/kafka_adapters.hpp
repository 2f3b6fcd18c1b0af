// SPDX-License-Identifier: Apache-2.0
// Glue between the Kafka module and the pipeline: poison handling and the relay's sink.
#pragma once

#include <string>
#include <vector>

#include "kyc_bridge/kafka/kafka.hpp"
#include "kyc_bridge/relay/relay.hpp"
#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::app {

/// The dead letter of a rejected message: the original key and value, the reason in a
/// `kyc_bridge_error` header, and an event_id derived from its topic/partition/offset so a
/// redelivered poison message queues one dead letter.
provision::OutboundEvent DeadLetterFor(const kafka::Message& message, const std::string& reason,
                                       const std::string& dead_letter_topic);

/// Splits a consumer batch into valid events and rejected ones (with reasons and dead letters).
void SortBatch(const std::vector<kafka::Message>& batch, const std::string& dead_letter_topic,
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
