// SPDX-License-Identifier: Apache-2.0
// Kafka as plain values: a committing consumer, an idempotent producer, an embedded cluster.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kyc_bridge::kafka {

struct Header {
    std::string name;
    std::string value;
};

struct Message {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::optional<std::string> key;
    std::string payload;
    bool tombstone = false;  ///< the value is null (a compaction tombstone), not just empty
    std::vector<Header> headers;
};

struct OutboundMessage {
    std::string topic;
    std::string key;
    std::string payload;
    std::vector<Header> headers;
};

struct Settings {
    std::string brokers;
    std::string group_id;
    std::map<std::string, std::string> properties;  ///< passed to librdkafka unchanged, last
};

/// A client could not be created (a bad property is named in the message).
class KafkaError : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// What one client last reported, for /readyz and /metrics: written from librdkafka callbacks
/// (statistics every `statistics.interval.ms`, 1 s by default here; rebalances), read from any
/// thread. Thread-safe.
class ClientStatus {
public:
    /// Some broker connection was UP at the last statistics (false before the first).
    bool BrokersUp() const { return brokers_up_.load(); }
    /// Consumer: the group gave it an assignment, possibly of no partitions; false after a
    /// revoke until the next assignment.
    bool Assigned() const { return assigned_.load(); }
    int AssignedPartitions() const { return assigned_partitions_.load(); }
    /// The client hit a fatal error (rd_kafka_fatal_error): it cannot produce any more.
    bool Fatal() const { return fatal_.load(); }
    /// Consumer: messages behind the high watermark per partition of the input topic (librdkafka
    /// statistics topics.*.partitions.*.consumer_lag; only partitions with a known lag).
    std::map<std::int32_t, std::int64_t> ConsumerLag() const;

    /// Takes one librdkafka statistics JSON document. Never throws.
    void UpdateFromStatistics(std::string_view json, bool fatal);
    void SetAssigned(bool assigned, int partitions);

private:
    std::atomic<bool> brokers_up_{false};
    std::atomic<bool> assigned_{false};
    std::atomic<int> assigned_partitions_{0};
    std::atomic<bool> fatal_{false};
    mutable std::mutex mutex_;
    std::map<std::int32_t, std::int64_t> lag_;
};

/// Makes a batch durable; true = durable, so its offsets may be committed.
using DurableSink = std::function<bool(const std::vector<Message>&)>;

/// High-level consumer, auto-commit off: offsets are committed only after the sink made the
/// batch durable. Not thread-safe: one thread polls.
class Consumer {
public:
    Consumer(const Settings& settings, const std::string& topic, DurableSink sink)
        : Consumer(settings, std::vector<std::string>{topic}, std::move(sink)) {}
    /// Subscribes to every topic of `topics` in one group (kyc_verified and kyc_revoked): a
    /// batch may mix them; Message::topic tells them apart.
    Consumer(const Settings& settings, const std::vector<std::string>& topics, DurableSink sink);
    ~Consumer();
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;

    /// Polls up to `max_messages` within `timeout`, hands them to the sink, commits on success.
    /// A failed sink keeps the batch, which is retried first on the next call.
    std::size_t PollOnce(std::size_t max_messages, std::chrono::milliseconds timeout);
    /// Leaves the group. Idempotent.
    void Close();
    /// Shared, so that a reader may outlive the consumer.
    std::shared_ptr<const ClientStatus> status() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct DeliveryReport {
    std::uint64_t id = 0;
    bool delivered = false;
    bool permanent = false;  ///< not delivered, and sending it again cannot help
    std::string error;       ///< error name and text; never payload
};

/// What Produce did with a message.
struct ProduceResult {
    enum class Kind { kQueued, kQueueFull, kRejected } kind = Kind::kQueued;
    std::string error;  ///< for kRejected (and kQueueFull): error name and text
    explicit operator bool() const { return kind == Kind::kQueued; }
};

/// Idempotent producer (enable.idempotence=true, acks=all). Not thread-safe.
class Producer {
public:
    explicit Producer(const Settings& settings);
    ~Producer();
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;

    /// Enqueues. kQueueFull: try again later (local queue full, or a passing error);
    /// kRejected: the message can never be produced (too large, invalid). Never throws.
    ProduceResult Produce(const OutboundMessage& message, std::uint64_t id);
    std::vector<DeliveryReport> Poll(std::chrono::milliseconds timeout);
    std::vector<DeliveryReport> Flush(std::chrono::milliseconds timeout, bool* complete = nullptr);
    /// Shared, so that a reader may outlive the producer.
    std::shared_ptr<const ClientStatus> status() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct TopicSpec {
    std::string name;
    int partitions = 3;
};

/// The cluster's topic names, from one metadata request (rd_kafka_metadata, all topics) within
/// `timeout`. For `check-config`. Throws KafkaError naming librdkafka's error (brokers down, …).
std::vector<std::string> ListTopics(const Settings& settings, std::chrono::milliseconds timeout);

/// librdkafka's Kafka-protocol mock cluster (rdkafka_mock.h) in this process, on loopback.
class EmbeddedCluster {
public:
    EmbeddedCluster(int broker_count, const std::vector<TopicSpec>& topics);
    ~EmbeddedCluster();
    EmbeddedCluster(const EmbeddedCluster&) = delete;
    EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

    std::string bootstrap_servers() const;
    void SetAllBrokersUp(bool up);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kyc_bridge::kafka
