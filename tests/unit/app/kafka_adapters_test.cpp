// SPDX-License-Identifier: Apache-2.0
// Dead letters (issue #9): never too large to produce, never carrying a forged kyc_bridge_*
// header, and tombstones and empty values rejected with their own reasons.
#include "kafka_adapters.hpp"

#include <gtest/gtest.h>

#include "kyc_bridge/core/ids.hpp"

namespace kyc_bridge::app {
namespace {

kafka::Message Poison(std::string payload) {
    kafka::Message m;
    m.topic = "customer.kyc_verified";
    m.partition = 2;
    m.offset = 41;
    m.key = "cus_1";
    m.payload = std::move(payload);
    return m;
}

std::vector<std::string> Values(const provision::OutboundEvent& letter, const std::string& name) {
    std::vector<std::string> values;
    for (const auto& [n, v] : letter.headers)
        if (n == name) values.push_back(v);
    return values;
}

std::size_t Size(const provision::OutboundEvent& letter) {
    std::size_t bytes = letter.key.size() + letter.payload.size();
    for (const auto& [n, v] : letter.headers) bytes += n.size() + v.size();
    return bytes;
}

TEST(DeadLetter, CarriesTheEventWholeWhenItFitsWithOurHeadersOnly) {
    auto m = Poison(R"({"event_id":"e1"})");
    m.headers = {{"trace", "t-1"}, {"kyc_bridge_error", "forged"}, {"KYC_BRIDGE_SOURCE", "x/0/0"}};
    auto letter = DeadLetterFor(m, "not_json: x", {"dlq", 64 * 1024});
    EXPECT_EQ(letter.topic, "dlq");
    EXPECT_EQ(letter.payload, m.payload);
    EXPECT_EQ(Values(letter, "kyc_bridge_error"), std::vector<std::string>{"not_json: x"});
    EXPECT_EQ(Values(letter, "kyc_bridge_source"),
              std::vector<std::string>{"customer.kyc_verified/2/41"});
    EXPECT_TRUE(Values(letter, "KYC_BRIDGE_SOURCE").empty()) << "a forged header of ours";
    EXPECT_EQ(Values(letter, "trace"), std::vector<std::string>{"t-1"});
    EXPECT_TRUE(Values(letter, "kyc_bridge_truncated").empty());
}

TEST(DeadLetter, ALargeEventGoesTruncatedWithItsSizeAndHash) {
    const std::string big(999'900, 'x');
    auto m = Poison(big);
    m.headers = {{"trace", std::string(10'000, 't')}};
    auto letter = DeadLetterFor(m, "too_large: event is 999900 bytes", {"dlq", 64 * 1024});
    EXPECT_LE(Size(letter), 64u * 1024u);
    EXPECT_GT(letter.payload.size(), 60'000u) << "as much of the event as fits";
    EXPECT_EQ(big.compare(0, letter.payload.size(), letter.payload), 0) << "a prefix";
    EXPECT_EQ(Values(letter, "kyc_bridge_truncated"), std::vector<std::string>{"999900"});
    EXPECT_EQ(Values(letter, "kyc_bridge_original_sha256"),
              std::vector<std::string>{core::Sha256Hex(big)});
    EXPECT_EQ(Values(letter, "kyc_bridge_source"),
              std::vector<std::string>{"customer.kyc_verified/2/41"});
    EXPECT_TRUE(Values(letter, "trace").empty()) << "input headers go first";
    // The same message again gets the same dead letter id: one dead letter per poison message.
    EXPECT_EQ(DeadLetterFor(m, "too_large", {"dlq", 64 * 1024}).event_id, letter.event_id);
}

TEST(SortBatch, TombstonesAndEmptyValuesAreRejectedWithTheirOwnReasons) {
    auto tombstone = Poison("");
    tombstone.tombstone = true;
    auto empty = Poison("");
    empty.offset = 42;
    std::vector<store::AcceptedEvent> accepted;
    std::vector<store::RejectedEvent> rejected;
    SortBatch({tombstone, empty}, {"dlq", 64 * 1024}, accepted, rejected);
    EXPECT_TRUE(accepted.empty());
    ASSERT_EQ(rejected.size(), 2u);
    EXPECT_EQ(rejected[0].reason.rfind("tombstone:", 0), 0u) << rejected[0].reason;
    EXPECT_EQ(rejected[1].reason.rfind("empty_message:", 0), 0u) << rejected[1].reason;
}

TEST(SortBatch, AnAcceptedEventCanBecomeAConflictWithItsOwnDeadLetter) {
    auto m = Poison(R"({"event_id":"e1","event_type":"customer.kyc_verified",)"
                    R"("occurred_at":"2026-11-22T10:00:00Z","customer_id":"cus_1",)"
                    R"("kyc_status":"VERIFIED","email":"a@example.com"})");
    std::vector<store::AcceptedEvent> accepted;
    std::vector<store::RejectedEvent> rejected;
    const std::vector<kafka::Message> batch{m};
    const DeadLetterSettings settings{"dlq", 64 * 1024};
    SortBatch(batch, settings, accepted, rejected);
    ASSERT_EQ(accepted.size(), 1u);
    ASSERT_TRUE(accepted[0].on_conflict);
    auto conflict = accepted[0].on_conflict(store::kEventIdConflictReason);
    EXPECT_EQ(conflict.reason, store::kEventIdConflictReason);
    EXPECT_EQ(conflict.payload, m.payload);
    EXPECT_EQ(Values(conflict.dead_letter, "kyc_bridge_error"),
              std::vector<std::string>{store::kEventIdConflictReason});
}

}  // namespace
}  // namespace kyc_bridge::app
