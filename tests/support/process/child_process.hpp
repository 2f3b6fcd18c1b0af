// SPDX-License-Identifier: Apache-2.0
// Starting, signalling and reaping real processes (the daemon, the emulator, the mock cluster).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kyc_bridge::testing {

/// A child process with stdout and stderr appended to `log_path`. The destructor kills it
/// (SIGKILL) if it still runs. Not thread-safe.
class ChildProcess {
public:
    ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                 const std::string& log_path);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    void Signal(int signal) const;
    /// The exit code (or 128 + signal number) once it has exited within `timeout`.
    std::optional<int> WaitExit(std::chrono::milliseconds timeout);
    bool Running();

private:
    pid_t pid_ = -1;
    std::optional<int> status_;
};

/// Waits until `path` exists and is not empty; returns its contents without a trailing newline.
/// Throws std::runtime_error on timeout.
std::string WaitForFile(const std::string& path, std::chrono::milliseconds timeout);

/// A fresh directory under $TMPDIR (or /tmp).
std::string MakeTempDir(const std::string& prefix);

/// The value of an environment variable set by meson for the test, or a runtime_error.
std::string RequiredEnv(const char* name);

}  // namespace kyc_bridge::testing
