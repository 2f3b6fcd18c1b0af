// SPDX-License-Identifier: Apache-2.0
// ClientStatus from librdkafka's statistics JSON (STATISTICS.md) and rebalance events.
#include <nlohmann/json.hpp>

#include "kyc_bridge/kafka/kafka.hpp"

namespace kyc_bridge::kafka {
namespace {

using nlohmann::json;

// brokers.*.state is "UP" for an open connection; the ":0/internal" pseudo-broker is always
// up and says nothing about the cluster.
bool AnyBrokerUp(const json& stats) {
    auto brokers = stats.find("brokers");
    if (brokers == stats.end() || !brokers->is_object()) return false;
    for (const auto& broker : *brokers) {
        if (!broker.is_object()) continue;
        if (broker.value("source", std::string()) == "internal") continue;
        if (broker.value("state", std::string()) == "UP") return true;
    }
    return false;
}

// consumer_lag is -1 where unknown, and the partition "-1" is the unassigned-partition bucket:
// both skipped.
std::map<std::int32_t, std::int64_t> LagOf(const json& stats) {
    std::map<std::int32_t, std::int64_t> lag;
    auto topics = stats.find("topics");
    if (topics == stats.end() || !topics->is_object()) return lag;
    for (const auto& topic : *topics) {
        auto partitions = topic.is_object() ? topic.find("partitions") : topic.end();
        if (!topic.is_object() || partitions == topic.end() || !partitions->is_object()) continue;
        for (const auto& partition : *partitions) {
            if (!partition.is_object()) continue;
            const auto id = partition.value("partition", std::int64_t{-1});
            const auto behind = partition.value("consumer_lag", std::int64_t{-1});
            if (id >= 0 && behind >= 0) lag[static_cast<std::int32_t>(id)] = behind;
        }
    }
    return lag;
}

}  // namespace

std::map<std::int32_t, std::int64_t> ClientStatus::ConsumerLag() const {
    std::lock_guard lock(mutex_);
    return lag_;
}

void ClientStatus::SetAssigned(bool assigned, int partitions) {
    assigned_partitions_ = assigned ? partitions : 0;
    assigned_ = assigned;
}

void ClientStatus::UpdateFromStatistics(std::string_view text, bool fatal) {
    if (fatal) fatal_ = true;
    auto stats = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!stats.is_object()) return;
    try {
        const bool up = AnyBrokerUp(stats);
        auto lag = LagOf(stats);
        brokers_up_ = up;
        std::lock_guard lock(mutex_);
        lag_ = std::move(lag);
    } catch (const json::exception&) {
        // A field of an unexpected type: keep the previous status rather than guess.
    }
}

}  // namespace kyc_bridge::kafka
