// SPDX-License-Identifier: Apache-2.0
// The /healthz and /readyz decisions: loop heartbeats within a bound, and named readiness checks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kyc_bridge/core/clock.hpp"

namespace kyc_bridge::observe {

/// What an HTTP probe answers: 200 or 503, and a JSON body.
struct ProbeAnswer {
    int status = 200;
    std::string body;  ///< a JSON object
};

/// The last turn of one loop, as UNIX milliseconds (0 = the loop has not started yet). The loop
/// calls Beat each turn; the health check reads it. Lock-free, thread-safe.
class Heartbeat {
public:
    void Beat(core::TimePoint now) { last_ms_.store(core::ToUnixMillis(now)); }
    std::int64_t LastMillis() const { return last_ms_.load(); }

private:
    std::atomic<std::int64_t> last_ms_{0};
};

/// One loop /healthz watches; `last_ms` returns its last turn in UNIX ms (0: not started).
struct LoopBeat {
    std::string name;  ///< "consumer", "scheduler", "relay"
    std::function<std::int64_t()> last_ms;
};

/// 200 {"status":"ok"} while every started loop turned within `bound` of `now`; otherwise 503
/// {"status":"stuck","stuck":[{"loop":…,"seconds_since_beat":…}]}. A loop that has not
/// started yet is not stuck: readiness covers start-up. Never throws (bar allocation).
ProbeAnswer CheckLoops(const std::vector<LoopBeat>& loops, core::TimePoint now,
                       std::chrono::milliseconds bound);

/// One condition of /readyz: `reason` is reported while `ok()` is false.
struct ReadinessCheck {
    std::string reason;  ///< fixed text, e.g. "consumer_unassigned"; never personal data
    std::function<bool()> ok;
};

/// 200 {"ready":true,"reasons":[]} when every check holds; otherwise 503
/// {"ready":false,"reasons":[…]} naming each failing check, in order. Never throws (bar
/// allocation).
ProbeAnswer CheckReadiness(const std::vector<ReadinessCheck>& checks);

}  // namespace kyc_bridge::observe
