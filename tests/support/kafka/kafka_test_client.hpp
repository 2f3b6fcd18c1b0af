// SPDX-License-Identifier: Apache-2.0
// A plain librdkafka client for tests: publish input, read back what a topic holds. It uses
// none of kyc-bridge's own Kafka code, so the tests judge the daemon from outside.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kyc_bridge::testing {

struct KafkaRecord {
    std::string key;
    std::string value;
    std::vector<std::pair<std::string, std::string>> headers;
    int partition = 0;
    std::int64_t offset = 0;
};

/// Produces every (key, value) with acks=all and waits for all delivery reports; throws on any
/// failed delivery.
void ProduceAll(const std::string& brokers, const std::string& topic,
                const std::vector<std::pair<std::string, std::string>>& key_values);

/// Everything the topic holds right now, read from the beginning of every partition up to its
/// high watermark. Throws if that is not reached within `timeout`.
std::vector<KafkaRecord> ReadAll(const std::string& brokers, const std::string& topic,
                                 std::chrono::milliseconds timeout);

}  // namespace kyc_bridge::testing
