// SPDX-License-Identifier: Apache-2.0
// Poison messages → rejected rows + dead letters; outbox rows → producer.
#include "kafka_adapters.hpp"

#include "kyc_bridge/core/ids.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "kyc_bridge/events/kyc_verified.hpp"

namespace kyc_bridge::app {

provision::OutboundEvent DeadLetterFor(const kafka::Message& message, const std::string& reason,
                                       const std::string& dead_letter_topic) {
    auto origin = message.topic + "/" + std::to_string(message.partition) + "/" +
                  std::to_string(message.offset);
    provision::OutboundEvent letter;
    letter.event_id = core::DeterministicUuid("kyc-bridge/dead-letter", origin);
    letter.topic = dead_letter_topic;
    letter.key = message.key.value_or("");
    letter.payload = message.payload;
    letter.headers = {{"kyc_bridge_error", reason}, {"kyc_bridge_source", origin}};
    for (const auto& header : message.headers) letter.headers.emplace_back(header.name, header.value);
    return letter;
}

void SortBatch(const std::vector<kafka::Message>& batch, const std::string& dead_letter_topic,
               std::vector<store::AcceptedEvent>& accepted,
               std::vector<store::RejectedEvent>& rejected) {
    auto log = core::Logger("consumer");
    for (const auto& message : batch) {
        store::Origin origin{message.topic, message.partition, message.offset};
        auto parsed = events::ParseKycVerified(message.payload);
        if (parsed) {
            accepted.push_back({origin, std::move(parsed.value())});
            continue;
        }
        auto reason = parsed.error().code + ": " + parsed.error().message;
        // The reason names fields, never values: safe to log.
        log->warn("event=rejected topic={} partition={} offset={} reason=\"{}\"", message.topic,
                  message.partition, message.offset, reason);
        rejected.push_back({origin, reason, DeadLetterFor(message, reason, dead_letter_topic)});
    }
}

relay::SendResult ProducerSink::Send(const provision::OutboundEvent& event, std::uint64_t seq,
                                     std::string& rejection) {
    kafka::OutboundMessage message{event.topic, event.key, event.payload, {}};
    for (const auto& [name, value] : event.headers) message.headers.push_back({name, value});
    auto produced = producer_.Produce(message, seq);
    switch (produced.kind) {
        case kafka::ProduceResult::Kind::kQueued: return relay::SendResult::kQueued;
        case kafka::ProduceResult::Kind::kQueueFull: return relay::SendResult::kQueueFull;
        case kafka::ProduceResult::Kind::kRejected: break;
    }
    rejection = produced.error;
    return relay::SendResult::kRejected;
}

std::vector<relay::Delivery> ProducerSink::Poll(std::chrono::milliseconds timeout) {
    std::vector<relay::Delivery> out;
    for (auto& report : producer_.Poll(timeout)) {
        out.push_back({report.id, report.delivered, report.permanent, report.error});
    }
    return out;
}

}  // namespace kyc_bridge::app
