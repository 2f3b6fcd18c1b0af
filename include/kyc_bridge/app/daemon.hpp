// SPDX-License-Identifier: Apache-2.0
// The composition root: builds the pipeline's parts in order and stops them in reverse.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "kyc_bridge/config/config.hpp"

namespace kyc_bridge::app {

/// The daemon cannot start for a reason that is not a config key (store unopenable, Kafka
/// client refused its properties). main() prints it and exits 1.
class StartupError : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// consumer → inbox → provisioner → outbox → relay, on one store. Run() blocks until
/// RequestStop(); RequestStop() is async-signal-unsafe but thread-safe (call it from a
/// signal-waiting thread).
class Daemon {
public:
    /// kConsume: the daemon. kDrain (`run --drain`): joins no consumer group and consumes
    /// nothing; finishes the store's pending jobs, sends its outbox, then stops (exit 0) — for a
    /// replica's store after a scale-down, whose events Kafka no longer offers anyone.
    enum class Mode { kConsume, kDrain };
    /// Run()'s exit code when a drain is stopped (SIGTERM) before the store is drained.
    static constexpr int kExitDrainInterrupted = 3;
    explicit Daemon(config::Config config, Mode mode = Mode::kConsume);

    /// Returns the exit code (0 after a clean stop or a finished drain, 1 after a fatal error,
    /// kExitDrainInterrupted). Throws config::ConfigError for a
    /// configuration Auth0 refuses at start-up (unknown role), StartupError otherwise.
    int Run();
    void RequestStop();

private:
    config::Config config_;
    Mode mode_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable cv_;
};

}  // namespace kyc_bridge::app
