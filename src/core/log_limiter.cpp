// SPDX-License-Identifier: Apache-2.0
// One line per key per interval; the rest are counted, not logged.
#include "kyc_bridge/core/log_limiter.hpp"

namespace kyc_bridge::core {

LogLimiter::LogLimiter(const Clock& clock, std::chrono::milliseconds interval, std::size_t max_keys)
    : clock_(clock), interval_(interval), max_keys_(max_keys) {}

std::optional<std::uint64_t> LogLimiter::Admit(std::string_view key) {
    const auto now = clock_.Now();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(std::string(key));
    if (it == entries_.end()) {
        if (entries_.size() >= max_keys_) Forget(now);
        entries_.emplace(std::string(key), Entry{now, 0});
        return 0;
    }
    Entry& entry = it->second;
    if (now - entry.logged_at < interval_) {
        ++entry.suppressed;
        return std::nullopt;
    }
    const auto suppressed = entry.suppressed;
    entry = Entry{now, 0};
    return suppressed;
}

void LogLimiter::Forget(TimePoint now) {
    // Keys quiet for an interval have nothing pending worth more than the map's bound: drop
    // them; if all are recent, start over (a burst of distinct keys is not a repeat).
    std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.logged_at >= interval_; });
    if (entries_.size() >= max_keys_) entries_.clear();
}

LogLimiter& RepeatedLogLimiter() {
    static const SystemClock clock;
    static LogLimiter limiter(clock, kRepeatedLogInterval);
    return limiter;
}

}  // namespace kyc_bridge::core
