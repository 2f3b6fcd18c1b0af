// SPDX-License-Identifier: Apache-2.0
// Outbox → Kafka: publishes outbox rows in order and marks each sent after its delivery report.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/provision/job.hpp"
#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::relay {

struct Delivery {
    std::uint64_t seq = 0;
    bool delivered = false;
    std::string error;
};

/// Where rows go: an idempotent Kafka producer in the daemon, a fake in tests.
class MessageSink {
public:
    virtual ~MessageSink() = default;
    /// Enqueues without blocking; false = not accepted now (queue full), try again later.
    virtual bool Send(const provision::OutboundEvent& event, std::uint64_t seq) = 0;
    /// Delivery reports that arrived within `timeout`.
    virtual std::vector<Delivery> Poll(std::chrono::milliseconds timeout) = 0;
};

struct RelayStats {
    std::atomic<std::uint64_t> published{0};
    std::atomic<std::uint64_t> delivery_failures{0};
    std::atomic<std::uint64_t> store_errors{0};
    std::atomic<std::int64_t> backlog{0};  ///< unsent rows at the last look
};

/// One thread. A row is marked sent only after a successful delivery report; a failed one is
/// sent again with the same event_id, as are unsent rows after a restart.
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
    std::int64_t cursor_ = 0;           ///< highest seq handed to the sink
    std::set<std::int64_t> in_flight_;  ///< handed to the sink, no report yet
    std::vector<std::int64_t> unmarked_;  ///< delivered, MarkSent failed: retry

    std::mutex mutex_;
    std::condition_variable cv_;
    bool wake_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace kyc_bridge::relay
