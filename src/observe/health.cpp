// SPDX-License-Identifier: Apache-2.0
// The /healthz and /readyz decisions, as pure functions of their inputs.
#include "kyc_bridge/observe/health.hpp"

#include <nlohmann/json.hpp>

namespace kyc_bridge::observe {

ProbeAnswer CheckLoops(const std::vector<LoopBeat>& loops, core::TimePoint now,
                       std::chrono::milliseconds bound) {
    const std::int64_t now_ms = core::ToUnixMillis(now);
    auto stuck = nlohmann::json::array();
    for (const auto& loop : loops) {
        const std::int64_t last = loop.last_ms ? loop.last_ms() : 0;
        if (last == 0) continue;  // not started yet
        if (now_ms - last > bound.count()) {
            stuck.push_back({{"loop", loop.name},
                             {"seconds_since_beat", static_cast<double>(now_ms - last) / 1000.0}});
        }
    }
    if (stuck.empty()) return {200, nlohmann::json{{"status", "ok"}}.dump()};
    return {503, nlohmann::json{{"status", "stuck"}, {"stuck", stuck}}.dump()};
}

ProbeAnswer CheckReadiness(const std::vector<ReadinessCheck>& checks) {
    auto reasons = nlohmann::json::array();
    for (const auto& check : checks) {
        if (!check.ok || !check.ok()) reasons.push_back(check.reason);
    }
    const bool ready = reasons.empty();
    return {ready ? 200 : 503, nlohmann::json{{"ready", ready}, {"reasons", reasons}}.dump()};
}

}  // namespace kyc_bridge::observe
