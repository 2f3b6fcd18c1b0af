// SPDX-License-Identifier: Apache-2.0
// Rate limit for repeated log lines: one line per key per interval, with the count held back.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "kyc_bridge/core/clock.hpp"

namespace kyc_bridge::core {

/// How often one repeated error (same event and code) is logged at most.
inline constexpr std::chrono::seconds kRepeatedLogInterval{10};

/// Admits at most one line per key per interval and counts the lines it holds back.
/// Thread-safe. Keeps at most `max_keys` keys (older ones are forgotten first).
class LogLimiter {
public:
    LogLimiter(const Clock& clock, std::chrono::milliseconds interval, std::size_t max_keys = 1024);

    /// nullopt: drop this line. Otherwise log it, noting the returned number of lines of this key
    /// that were dropped since the last one logged.
    std::optional<std::uint64_t> Admit(std::string_view key);

private:
    struct Entry {
        TimePoint logged_at;
        std::uint64_t suppressed = 0;
    };
    void Forget(TimePoint now);

    const Clock& clock_;
    const std::chrono::milliseconds interval_;
    const std::size_t max_keys_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

/// The process-wide limiter of LogLimited: the system clock, kRepeatedLogInterval.
LogLimiter& RepeatedLogLimiter();

/// Logs like `log.log(level, format, args...)`, but a line whose `key` (event and code, e.g.
/// "auth0_call_failed/create_user/429") was logged less than kRepeatedLogInterval ago is
/// dropped; the next line logged for the key ends with ` suppressed=N`.
template <typename... Args>
void LogLimited(spdlog::logger& log, spdlog::level::level_enum level, std::string_view key,
                fmt::format_string<Args...> format, Args&&... args) {
    if (!log.should_log(level)) return;
    const auto admitted = RepeatedLogLimiter().Admit(key);
    if (!admitted) return;
    std::string line = fmt::format(format, std::forward<Args>(args)...);
    if (*admitted > 0) fmt::format_to(std::back_inserter(line), " suppressed={}", *admitted);
    log.log(level, "{}", line);
}

}  // namespace kyc_bridge::core
