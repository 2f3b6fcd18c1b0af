// SPDX-License-Identifier: Apache-2.0
// The relay loop: the outbox is the source of truth, the cursor only avoids re-reading rows.
#include "kyc_bridge/relay/relay.hpp"

#include <algorithm>

#include "kyc_bridge/core/logging.hpp"

namespace kyc_bridge::relay {

namespace {
constexpr std::size_t kBatch = 500;
}

Relay::Relay(store::Store& store, MessageSink& sink) : store_(store), sink_(sink) {}

Relay::~Relay() { Stop(std::chrono::steady_clock::now()); }

void Relay::Start() { thread_ = std::thread([this] { Loop(); }); }

void Relay::Wake() {
    {
        std::lock_guard lock(mutex_);
        wake_ = true;
    }
    cv_.notify_one();
}

void Relay::Stop(std::chrono::steady_clock::time_point deadline) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    // Flush: publish what the last jobs queued and collect every report, within the deadline.
    while (std::chrono::steady_clock::now() < deadline) {
        RunOnce(std::chrono::milliseconds{50});
        auto backlog = store_.CountUnsentOutbox();
        if (in_flight_.empty() && unmarked_.empty() && backlog && *backlog == 0) break;
    }
}

void Relay::Loop() {
    while (true) {
        bool worked = RunOnce(std::chrono::milliseconds{in_flight_.empty() ? 0 : 20});
        std::unique_lock lock(mutex_);
        if (stopping_) return;
        if (!worked && in_flight_.empty()) {
            cv_.wait_for(lock, std::chrono::milliseconds{200}, [this] { return wake_ || stopping_; });
        }
        wake_ = false;
        if (stopping_) return;
    }
}

bool Relay::RunOnce(std::chrono::milliseconds poll_timeout) {
    auto before = stats_.published.load() + in_flight_.size();
    SendPending();
    Collect(poll_timeout);
    return stats_.published.load() + in_flight_.size() != before;
}

void Relay::SendPending() {
    auto log = core::Logger("relay");
    auto rows = store_.PendingOutbox(cursor_, kBatch);
    if (!rows) {
        ++stats_.store_errors;
        log->error("event=outbox_read_failed error=\"{}\"", rows.error().message);
        return;
    }
    for (const auto& row : *rows) {
        if (in_flight_.count(row.seq)) {
            cursor_ = std::max(cursor_, row.seq);
            continue;
        }
        if (!sink_.Send(row.event, static_cast<std::uint64_t>(row.seq))) break;  // queue full
        in_flight_.insert(row.seq);
        cursor_ = std::max(cursor_, row.seq);
    }
    if (auto backlog = store_.CountUnsentOutbox()) stats_.backlog = *backlog;
}

void Relay::Collect(std::chrono::milliseconds poll_timeout) {
    auto log = core::Logger("relay");
    for (const auto& report : sink_.Poll(poll_timeout)) {
        auto seq = static_cast<std::int64_t>(report.seq);
        in_flight_.erase(seq);
        if (report.delivered) {
            unmarked_.push_back(seq);
            ++stats_.published;
        } else {
            // Sent again with the same event_id: rewind the cursor so the row is re-read.
            ++stats_.delivery_failures;
            cursor_ = std::min(cursor_, seq - 1);
            log->warn("event=delivery_failed seq={} error=\"{}\"", seq, report.error);
        }
    }
    std::vector<std::int64_t> still_unmarked;
    for (auto seq : unmarked_) {
        if (auto marked = store_.MarkSent(seq); !marked) {
            ++stats_.store_errors;
            still_unmarked.push_back(seq);
            log->error("event=mark_sent_failed seq={} error=\"{}\"", seq, marked.error().message);
        }
    }
    unmarked_ = std::move(still_unmarked);
}

}  // namespace kyc_bridge::relay
