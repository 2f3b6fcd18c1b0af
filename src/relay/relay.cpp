// SPDX-License-Identifier: Apache-2.0
// The relay loop: the outbox is the source of truth, the cursor only avoids re-reading rows.
#include "kyc_bridge/relay/relay.hpp"

#include <algorithm>

#include "kyc_bridge/core/log_limiter.hpp"
#include "kyc_bridge/core/logging.hpp"

namespace kyc_bridge::relay {

namespace {
constexpr std::size_t kBatch = 500;
}

Relay::Relay(store::Store& store, MessageSink& sink) : store_(store), sink_(sink) {}

Relay::~Relay() { Stop(std::chrono::steady_clock::now()); }

void Relay::Start() {
    thread_ = std::thread([this] { Loop(); });
}

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
        if (in_flight_.empty() && unmarked_.empty() && unset_aside_.empty() && backlog &&
            *backlog == 0) {
            break;
        }
    }
}

void Relay::Loop() {
    while (true) {
        stats_.heartbeat_ms = core::ToUnixMillis(std::chrono::system_clock::now());
        bool worked = RunOnce(std::chrono::milliseconds{in_flight_.empty() ? 0 : 20});
        std::unique_lock lock(mutex_);
        if (stopping_) return;
        if (!worked && in_flight_.empty()) {
            cv_.wait_for(lock, std::chrono::milliseconds{200},
                         [this] { return wake_ || stopping_; });
        }
        wake_ = false;
        if (stopping_) return;
    }
}

bool Relay::RunOnce(std::chrono::milliseconds poll_timeout) {
    auto progress = [this] {
        return stats_.published.load() + stats_.set_aside.load() + in_flight_.size();
    };
    auto before = progress();
    SendPending();
    Collect(poll_timeout);
    SetAside();
    return progress() != before;
}

void Relay::SendPending() {
    auto log = core::Logger("relay");
    auto rows = store_.PendingOutbox(cursor_, kBatch);
    if (!rows) {
        ++stats_.store_errors;
        core::LogLimited(*log, spdlog::level::err, "outbox_read_failed/" + rows.error().code,
                         "event=outbox_read_failed error=\"{}\"", rows.error().message);
        return;
    }
    for (const auto& row : *rows) {
        if (in_flight_.count(row.seq) || unset_aside_.count(row.seq)) {
            cursor_ = std::max(cursor_, row.seq);
            continue;
        }
        std::string rejection;
        auto sent = sink_.Send(row.event, static_cast<std::uint64_t>(row.seq), rejection);
        if (sent == SendResult::kQueueFull) break;
        if (sent == SendResult::kRejected) {
            unset_aside_[row.seq] = {row.event.topic, rejection};
        } else {
            in_flight_[row.seq] = row.event.topic;
        }
        cursor_ = std::max(cursor_, row.seq);
    }
    // count(*) walks every unsent row: once a second is enough for a gauge, and keeps a long
    // backlog (Kafka down) from costing a full count per round.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_backlog_count_ >= std::chrono::seconds{1}) {
        last_backlog_count_ = now;
        if (auto backlog = store_.CountUnsentOutbox()) stats_.backlog = *backlog;
    }
}

void Relay::Collect(std::chrono::milliseconds poll_timeout) {
    auto log = core::Logger("relay");
    for (auto& report : sink_.Poll(poll_timeout)) {
        auto seq = static_cast<std::int64_t>(report.seq);
        std::string topic;
        if (auto it = in_flight_.find(seq); it != in_flight_.end()) {
            topic = std::move(it->second);
            in_flight_.erase(it);
        }
        if (report.delivered) {
            unmarked_.push_back(seq);
            ++stats_.published;
            if (!topic.empty()) stats_.CountPublished(topic);
        } else if (report.permanent) {
            unset_aside_[seq] = {std::move(topic), std::move(report.error)};
        } else {
            // Sent again with the same event_id: rewind the cursor so the row is re-read.
            ++stats_.delivery_failures;
            cursor_ = std::min(cursor_, seq - 1);
            core::LogLimited(*log, spdlog::level::warn, "delivery_failed/" + report.error,
                             "event=delivery_failed seq={} error=\"{}\"", seq, report.error);
        }
    }
    if (unmarked_.empty()) return;
    // One write for the round's reports: one transaction, not one per row.
    if (auto marked = store_.MarkSent(unmarked_); !marked) {
        ++stats_.store_errors;
        core::LogLimited(*log, spdlog::level::err, "mark_sent_failed/" + marked.error().code,
                         "event=mark_sent_failed rows={} error=\"{}\"", unmarked_.size(),
                         marked.error().message);
        return;  // kept, marked next round
    }
    unmarked_.clear();
}

void Relay::SetAside() {
    auto log = core::Logger("relay");
    for (auto it = unset_aside_.begin(); it != unset_aside_.end();) {
        const auto& [seq, refused] = *it;
        if (auto stored = store_.SetAsideOutbox(seq, refused.reason); !stored) {
            ++stats_.store_errors;
            log->error("event=set_aside_failed seq={} error=\"{}\"", seq, stored.error().message);
            return;  // kept, not sent meanwhile, set aside next round
        }
        ++stats_.set_aside;
        // Once per row: it leaves the backlog now. Never the payload (personal data).
        log->error("event=outbox_row_set_aside seq={} topic={} reason=\"{}\"", seq, refused.topic,
                   refused.reason);
        it = unset_aside_.erase(it);
    }
}

}  // namespace kyc_bridge::relay
