// SPDX-License-Identifier: Apache-2.0
#include "service_notifier.hpp"

#include <nlohmann/json.hpp>

#include "kyc_bridge/core/logging.hpp"

#ifdef KYC_BRIDGE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace kyc_bridge::app {

ServiceNotifier::ServiceNotifier() {
#ifdef KYC_BRIDGE_HAVE_SYSTEMD
    std::uint64_t usec = 0;
    // unset_environment = 0: nothing this process starts should inherit it, but it starts
    // nothing, and the variables help whoever debugs the unit.
    if (sd_watchdog_enabled(0, &usec) > 0) watchdog_interval_ = std::chrono::microseconds{usec};
#endif
}

void ServiceNotifier::Send(const std::string& message) {
#ifdef KYC_BRIDGE_HAVE_SYSTEMD
    // < 0 is an error, 0 means no NOTIFY_SOCKET (not under systemd): neither is worth more
    // than a debug line, the daemon works the same without a service manager.
    if (const int r = sd_notify(0, message.c_str()); r < 0) {
        core::Logger("app")->debug("event=sd_notify_failed errno={}", -r);
    }
#else
    (void)message;
#endif
}

void ServiceNotifier::Ready(const std::string& status) {
    std::lock_guard lock(mutex_);
    if (stopping_sent_) return;
    if (!ready_sent_) {
        ready_sent_ = true;
        status_ = status;
        Send("READY=1\nSTATUS=" + status);
        return;
    }
    if (status != status_) {
        status_ = status;
        Send("STATUS=" + status);
    }
}

void ServiceNotifier::NotReady(const std::string& status) {
    std::lock_guard lock(mutex_);
    if (stopping_sent_ || status == status_) return;
    status_ = status;
    Send("STATUS=" + status);
}

void ServiceNotifier::Stopping() {
    std::lock_guard lock(mutex_);
    if (stopping_sent_) return;
    stopping_sent_ = true;
    status_ = "stopping: finishing in-flight jobs";
    Send("STOPPING=1\nSTATUS=" + status_);
}

void ServiceNotifier::Watchdog(bool loops_healthy, std::chrono::steady_clock::time_point now) {
    if (!watchdog_enabled() || !loops_healthy) return;
    std::lock_guard lock(mutex_);
    // sd_watchdog_enabled(3) recommends a ping every half interval; a third leaves room for
    // the loop turn (a poll and an ingest commit) that comes on top of it.
    if (last_ping_ != std::chrono::steady_clock::time_point{} &&
        now - last_ping_ < watchdog_interval_ / 3) {
        return;
    }
    last_ping_ = now;
    Send("WATCHDOG=1");
}

std::string NotReadyStatus(const std::string& readyz_body) {
    const auto body = nlohmann::json::parse(readyz_body, nullptr, false);
    std::string reasons;
    if (body.is_object() && body.contains("reasons") && body["reasons"].is_array()) {
        for (const auto& reason : body["reasons"]) {
            if (!reason.is_string()) continue;
            reasons += (reasons.empty() ? "" : ", ") + reason.get<std::string>();
        }
    }
    return reasons.empty() ? "not ready" : "not ready: " + reasons;
}

}  // namespace kyc_bridge::app
