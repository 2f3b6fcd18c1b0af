// SPDX-License-Identifier: Apache-2.0
// Reads a topic continuously from the beginning and notes when each key first arrived, so the
// benchmark can time every customer from its publish to its auth.user_created.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kyc_bridge::bench {

/// A librdkafka consumer on its own thread, assigned every partition of `topic` (no group
/// membership, no commits). Thread-safe; the destructor stops and joins the thread.
class OutputWatcher {
public:
    using Clock = std::chrono::steady_clock;

    /// Throws std::runtime_error if the client cannot be created or the topic has no metadata.
    OutputWatcher(const std::string& brokers, const std::string& topic);
    ~OutputWatcher();
    OutputWatcher(const OutputWatcher&) = delete;
    OutputWatcher& operator=(const OutputWatcher&) = delete;

    /// Distinct keys seen so far.
    std::size_t Count();
    /// Blocks until `count` distinct keys have arrived or `until` passes; true if they arrived.
    bool WaitFor(std::size_t count, Clock::time_point until);
    /// When each key first arrived.
    std::map<std::string, Clock::time_point> Arrivals();

private:
    struct Consumer;
    void Run();

    std::unique_ptr<Consumer> consumer_;
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::map<std::string, Clock::time_point> arrivals_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace kyc_bridge::bench
