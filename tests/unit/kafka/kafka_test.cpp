// SPDX-License-Identifier: Apache-2.0
// Round trips through the embedded cluster: delivery reports, commit only after the sink.
#include "kyc_bridge/kafka/kafka.hpp"

#include <set>

#include <gtest/gtest.h>

namespace kyc_bridge::kafka {
namespace {

using namespace std::chrono_literals;

Settings TestSettings(const EmbeddedCluster& cluster) {
    return {cluster.bootstrap_servers(), "unit-test-group",
            {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}}};
}

std::size_t PollUntil(Consumer& consumer, std::size_t want, std::chrono::seconds timeout) {
    std::size_t got = 0;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got < want && std::chrono::steady_clock::now() < deadline) got += consumer.PollOnce(100, 200ms);
    return got;
}

TEST(Kafka, ProducerReportsDeliveryAndConsumerSeesKeysAndHeaders) {
    EmbeddedCluster cluster(1, {{"in", 2}});
    auto settings = TestSettings(cluster);
    Producer producer(settings);
    ASSERT_TRUE(producer.Produce({"in", "cus_1", "{\"a\":1}", {{"h", "v"}}}, 7));
    bool complete = false;
    auto reports = producer.Flush(10s, &complete);
    ASSERT_TRUE(complete);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].id, 7u);
    EXPECT_TRUE(reports[0].delivered);

    std::vector<Message> seen;
    Consumer consumer(settings, "in", [&](const std::vector<Message>& batch) {
        seen.insert(seen.end(), batch.begin(), batch.end());
        return true;
    });
    ASSERT_EQ(PollUntil(consumer, 1, 30s), 1u);
    EXPECT_EQ(seen[0].key, "cus_1");
    EXPECT_EQ(seen[0].payload, "{\"a\":1}");
    ASSERT_EQ(seen[0].headers.size(), 1u);
    EXPECT_EQ(seen[0].headers[0].value, "v");
}

TEST(Kafka, OffsetsAreCommittedOnlyAfterTheSinkSucceeds) {
    EmbeddedCluster cluster(1, {{"in", 1}});
    auto settings = TestSettings(cluster);
    Producer producer(settings);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(producer.Produce({"in", "k", std::to_string(i), {}}, i));
    producer.Flush(10s);
    {
        int calls = 0;
        Consumer failing(settings, "in", [&](const std::vector<Message>&) { ++calls; return false; });
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (calls < 2 && std::chrono::steady_clock::now() < deadline) failing.PollOnce(100, 200ms);
        EXPECT_GE(calls, 2);  // the same batch is retried
    }
    std::size_t seen = 0;
    Consumer consumer(settings, "in", [&](const std::vector<Message>& b) { seen += b.size(); return true; });
    EXPECT_EQ(PollUntil(consumer, 3, 40s), 3u) << "nothing was committed by the failing consumer";
}


TEST(Kafka, ARebalanceWhileTheStoreFailsHandsTheHeldBackBatchToTheNewOwner) {
    EmbeddedCluster cluster(1, {{"in", 4}});
    auto settings = TestSettings(cluster);
    Producer producer(settings);
    for (int i = 0; i < 40; ++i) {
        ASSERT_TRUE(producer.Produce({"in", "k" + std::to_string(i), std::to_string(i), {}}, i));
    }
    producer.Flush(10s);

    std::set<std::string> durable;
    bool store_up = false;
    auto sink = [&](const std::vector<Message>& batch) {
        if (!store_up) return false;
        for (const auto& m : batch) durable.insert(m.payload);
        return true;
    };
    Consumer first(settings, "in", sink);
    for (int i = 0; i < 20; ++i) first.PollOnce(100, 200ms);  // holds a batch, paused
    EXPECT_TRUE(durable.empty());

    // A second member joins: the first gives up half of its partitions and the part of its
    // held-back batch that came from them; the store comes back.
    store_up = true;
    Consumer second(settings, "in", sink);
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (durable.size() < 40 && std::chrono::steady_clock::now() < deadline) {
        first.PollOnce(100, 100ms);
        second.PollOnce(100, 100ms);
    }
    EXPECT_EQ(durable.size(), 40u) << "every message became durable with one owner or the other";
}

}  // namespace
}  // namespace kyc_bridge::kafka
