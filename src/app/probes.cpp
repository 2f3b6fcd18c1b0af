// SPDX-License-Identifier: Apache-2.0
// /healthz and /readyz of the daemon: which loops and which dependencies they look at.
#include "ops_metrics.hpp"

namespace kyc_bridge::app {

observe::ProbeHandler HealthProbe(ProbeInputs in) {
    return [in] {
        // After SIGTERM the loops stop turning while jobs drain (up to shutdown_timeout_s): a
        // liveness probe must not kill the drain.
        if (in.stopping) return observe::CheckLoops({}, in.clock.Now(), kLoopBound);
        return observe::CheckLoops(
            {{"consumer", [&b = in.consumer_beat] { return b.LastMillis(); }},
             {"scheduler", [&j = in.jobs] { return j.heartbeat_ms.load(); }},
             {"relay", [&r = in.relay] { return r.heartbeat_ms.load(); }}},
            in.clock.Now(), kLoopBound);
    };
}

observe::ProbeHandler ReadinessProbe(ProbeInputs in) {
    return [in] {
        auto consumer = in.consumer.Get();
        // Start-up (roles resolving, clients connecting) is one reason; the others would only
        // repeat it.
        if (!in.consuming || !consumer) {
            return observe::CheckReadiness({{"starting", [] { return false; }}});
        }
        return observe::CheckReadiness({
            {"kafka_brokers_unreachable", [&] { return consumer->BrokersUp(); }},
            {"consumer_unassigned", [&] { return consumer->Assigned(); }},
            {"producer_fatal_error", [&] { return !in.producer->Fatal(); }},
            {"store_not_writable",
             [&] { return in.ingested.store_writable && in.store.stats().last_commit_ok; }},
            {"auth0_token_unavailable",
             [&] {
                 // Nothing else fetches while no job needs a token: ask for one, so that an idle
                 // daemon turns ready again once Auth0 answers.
                 if (!in.auth0.token_fetch_ok) in.refresh_token();
                 return in.auth0.token_fetch_ok.load();
             }},
            {"provisioning_quarantined", [&] { return !in.jobs.quarantined; }},
        });
    };
}

void SetProbes(observe::MetricsServer& metrics, ProbeInputs in) {
    metrics.SetHealth(HealthProbe(in));
    metrics.SetReadiness(ReadinessProbe(in));
}

}  // namespace kyc_bridge::app
