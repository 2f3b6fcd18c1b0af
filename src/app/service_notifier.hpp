// SPDX-License-Identifier: Apache-2.0
// The daemon's side of systemd's notification protocol (sd_notify(3)): READY=1 once /readyz
// would say ready, STATUS= while it would not, STOPPING=1 on SIGTERM, and WATCHDOG=1 only while
// the loops' heartbeats are fresh, so that a wedged loop gets the service restarted.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

namespace kyc_bridge::app {

/// Every call is a no-op outside a `Type=notify` unit (no NOTIFY_SOCKET) or in a build without
/// libsystemd (meson option `systemd`). Thread-safe.
class ServiceNotifier {
public:
    /// Reads WATCHDOG_USEC/WATCHDOG_PID once (sd_watchdog_enabled(3)).
    ServiceNotifier();

    /// READY=1 the first time; afterwards only the STATUS= line, when it changed.
    void Ready(const std::string& status);
    /// STATUS= while not ready (start-up, quarantine, brokers down), when it changed.
    void NotReady(const std::string& status);
    /// STOPPING=1, once.
    void Stopping();
    /// WATCHDOG=1 when the watchdog is on and `loops_healthy`, at most every third of the
    /// interval. An unhealthy daemon simply stops pinging.
    void Watchdog(bool loops_healthy, std::chrono::steady_clock::time_point now);

    bool watchdog_enabled() const { return watchdog_interval_.count() > 0; }

private:
    void Send(const std::string& message);  // caller holds mutex_

    std::mutex mutex_;
    std::chrono::microseconds watchdog_interval_{0};
    std::chrono::steady_clock::time_point last_ping_{};
    bool ready_sent_ = false;
    bool stopping_sent_ = false;
    std::string status_;
};

/// "STATUS=" text for a /readyz body {"ready":false,"reasons":[…]}: "not ready: a, b". Never
/// throws; an unreadable body gives "not ready".
std::string NotReadyStatus(const std::string& readyz_body);

}  // namespace kyc_bridge::app
