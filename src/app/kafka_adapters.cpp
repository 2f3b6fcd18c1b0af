// SPDX-License-Identifier: Apache-2.0
// Poison messages → rejected rows + dead letters; outbox rows → producer.
#include "kafka_adapters.hpp"

#include "kyc_bridge/core/ids.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "kyc_bridge/events/kyc_revoked.hpp"
#include "kyc_bridge/events/kyc_verified.hpp"

namespace kyc_bridge::app {

namespace {

bool IsOurHeader(const std::string& name) {
    return core::AsciiLower(name).rfind("kyc_bridge_", 0) == 0;
}

std::size_t HeaderBytes(const std::vector<std::pair<std::string, std::string>>& headers) {
    std::size_t bytes = 0;
    for (const auto& [name, value] : headers) bytes += name.size() + value.size();
    return bytes;
}

// A revoke goes through the pipeline in the verify event's shape (ids, time, customer) with
// the event itself beside it.
core::Result<events::KycVerified> ParseRevokedAsJob(const std::string& payload,
                                                    std::optional<events::KycRevoked>& revoked) {
    auto parsed = events::ParseKycRevoked(payload);
    if (!parsed) return parsed.error();
    events::KycVerified shape;
    shape.event_id = parsed->event_id;
    shape.event_type = parsed->event_type;
    shape.occurred_at = parsed->occurred_at;
    shape.customer_id = parsed->customer_id;
    revoked = std::move(parsed.value());
    return shape;
}

}  // namespace

provision::OutboundEvent DeadLetterFor(const kafka::Message& message, const std::string& reason,
                                       const DeadLetterSettings& settings) {
    auto origin = message.topic + "/" + std::to_string(message.partition) + "/" +
                  std::to_string(message.offset);
    provision::OutboundEvent letter;
    letter.event_id = core::DeterministicUuid("kyc-bridge/dead-letter", origin);
    letter.topic = settings.topic;
    letter.key = message.key.value_or("");
    letter.headers = {{"kyc_bridge_error", reason}, {"kyc_bridge_source", origin}};
    std::vector<std::pair<std::string, std::string>> input;
    for (const auto& header : message.headers) {
        if (!IsOurHeader(header.name)) input.emplace_back(header.name, header.value);
    }
    const std::size_t whole = letter.key.size() + message.payload.size() +
                              HeaderBytes(letter.headers) + HeaderBytes(input);
    if (whole <= settings.max_bytes) {
        letter.payload = message.payload;
        letter.headers.insert(letter.headers.end(), input.begin(), input.end());
        return letter;
    }
    // Too large for the dead-letter topic: what identifies the original stays (source, size,
    // hash), the input headers go, and the value is cut to the room left.
    letter.headers.emplace_back("kyc_bridge_truncated", std::to_string(message.payload.size()));
    letter.headers.emplace_back("kyc_bridge_original_sha256", core::Sha256Hex(message.payload));
    if (letter.key.size() > 256) letter.key.resize(256);
    const std::size_t used = letter.key.size() + HeaderBytes(letter.headers);
    const std::size_t room = settings.max_bytes > used ? settings.max_bytes - used : 0;
    letter.payload = message.payload.substr(0, room);
    return letter;
}

void SortBatch(const std::vector<kafka::Message>& batch, const DeadLetterSettings& dead_letters,
               std::vector<store::AcceptedEvent>& accepted,
               std::vector<store::RejectedEvent>& rejected) {
    auto log = core::Logger("consumer");
    for (const auto& message : batch) {
        store::Origin origin{message.topic, message.partition, message.offset};
        std::optional<events::KycRevoked> revoked;
        core::Result<events::KycVerified> parsed =
            message.tombstone
                ? core::Error::Permanent("the message has no value (a tombstone)", "tombstone")
            : message.payload.empty()
                ? core::Error::Permanent("the message value is empty", "empty_message")
            : message.topic == dead_letters.revoked_topic
                ? ParseRevokedAsJob(message.payload, revoked)
                : events::ParseKycVerified(message.payload);
        if (parsed) {
            // Builds the dead letter only if a conflict happens. It points into `batch`, which
            // outlives the Ingest call that may call it (the only caller).
            auto on_conflict = [m = &message, origin, &dead_letters](const std::string& reason) {
                core::Logger("consumer")
                    ->warn("event=rejected topic={} partition={} offset={} reason=\"{}\"",
                           m->topic, m->partition, m->offset, reason);
                return store::RejectedEvent{origin, reason, DeadLetterFor(*m, reason, dead_letters),
                                            m->payload};
            };
            accepted.push_back(
                {origin, std::move(parsed.value()), std::move(on_conflict), std::move(revoked)});
            continue;
        }
        auto reason = parsed.error().code + ": " + parsed.error().message;
        // The reason names fields, never values: safe to log.
        log->warn("event=rejected topic={} partition={} offset={} reason=\"{}\"", message.topic,
                  message.partition, message.offset, reason);
        rejected.push_back(
            {origin, reason, DeadLetterFor(message, reason, dead_letters), message.payload});
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
