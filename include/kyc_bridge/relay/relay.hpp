// SPDX-License-Identifier: Apache-2.0
// Outbox → Kafka: publishes outbox rows in order and marks each sent after its delivery report.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/provision/job.hpp"
#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::relay {

/// A delivery report of one row.
struct Delivery {
    std::uint64_t seq = 0;
    bool delivered = false;
    /// The broker refused the message for good (e.g. MSG_SIZE_TOO_LARGE, INVALID_RECORD,
    /// TOPIC_AUTHORIZATION_FAILED): sending it again cannot help. Only when !delivered.
    bool permanent = false;
    std::string error;  ///< the producer's error name and text, never payload
};

/// What the sink did with a row handed to it.
enum class SendResult {
    kQueued,     ///< a delivery report will follow
    kQueueFull,  ///< not accepted now (local queue full): try again later, no report follows
    kRejected,   ///< refused for good at produce time (e.g. MSG_SIZE_TOO_LARGE): no report
};

/// Where rows go: an idempotent Kafka producer in the daemon, a fake in tests.
class MessageSink {
public:
    virtual ~MessageSink() = default;
    /// Enqueues without blocking. On kRejected, sets `rejection` to the reason (error name and
    /// text, never payload).
    virtual SendResult Send(const provision::OutboundEvent& event, std::uint64_t seq,
                            std::string& rejection) = 0;
    /// Delivery reports that arrived within `timeout`.
    virtual std::vector<Delivery> Poll(std::chrono::milliseconds timeout) = 0;
};

struct RelayStats {
    std::atomic<std::uint64_t> published{0};
    std::atomic<std::uint64_t> delivery_failures{0};  ///< transient ones, sent again
    std::atomic<std::uint64_t> set_aside{0};          ///< rows refused for good, set aside
    std::atomic<std::uint64_t> store_errors{0};
    std::atomic<std::int64_t> backlog{0};  ///< unsent rows at the last look (set-aside excluded)
    std::atomic<std::int64_t> heartbeat_ms{0};  ///< UNIX ms of the relay loop's last turn

    /// Delivered rows per topic (the output and dead-letter topics). Thread-safe.
    std::map<std::string, std::uint64_t> PublishedByTopic() const {
        std::lock_guard lock(topics_mutex_);
        return published_by_topic_;
    }
    void CountPublished(const std::string& topic) {
        std::lock_guard lock(topics_mutex_);
        ++published_by_topic_[topic];
    }

private:
    mutable std::mutex topics_mutex_;
    std::map<std::string, std::uint64_t> published_by_topic_;
};

/// One thread. A row is marked sent only after a successful delivery report, the rows of one
/// round in one MarkSent; a transient failure is sent again with the same event_id, as are
/// unsent rows after a restart. A row refused for good (at produce time or in its report) is
/// set aside in the store with its reason, counted and logged once, and the rows behind it flow.
class Relay {
public:
    Relay(store::Store& store, MessageSink& sink);
    ~Relay();
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    void Start();
    /// New outbox rows may exist.
    void Wake();
    /// Stops taking new rows, waits for in-flight deliveries until `deadline`, joins.
    void Stop(std::chrono::steady_clock::time_point deadline);

    /// One round: send pending rows, collect reports, mark sent. Returns true if it did work.
    /// Used by the thread and by tests.
    bool RunOnce(std::chrono::milliseconds poll_timeout);
    std::size_t in_flight() const { return in_flight_.size(); }
    const RelayStats& stats() const { return stats_; }

private:
    void Loop();
    void SendPending();
    void Collect(std::chrono::milliseconds poll_timeout);

    store::Store& store_;
    MessageSink& sink_;
    RelayStats stats_;
    /// Sets rows aside that the sink refused for good; those the store failed to set aside stay
    /// in unset_aside_ for the next round (and are not sent meanwhile).
    void SetAside();

    std::chrono::steady_clock::time_point last_backlog_count_{};
    std::int64_t cursor_ = 0;                        ///< highest seq handed to the sink
    std::map<std::int64_t, std::string> in_flight_;  ///< handed to the sink, no report yet: topic
    std::vector<std::int64_t> unmarked_;             ///< delivered, not yet marked sent
    struct Refused {
        std::string topic;
        std::string reason;
    };
    std::map<std::int64_t, Refused> unset_aside_;  ///< refused for good, not yet set aside

    std::mutex mutex_;
    std::condition_variable cv_;
    bool wake_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace kyc_bridge::relay
