// SPDX-License-Identifier: Apache-2.0
// Process-wide spdlog set-up: one logger per component, text or JSON lines on stderr.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace kyc_bridge::core {

/// Configures every logger. `level`: trace|debug|info|warn|error; `format`: text|json.
/// Throws std::invalid_argument on an unknown level or format. Call once, before any thread starts.
void SetUpLogging(const std::string& level, const std::string& format);

/// The logger of one component ("consumer", "provisioner", "auth0", ...), created on first use.
/// Thread-safe. Log lines carry key=value fields and never personal data, tokens or secrets.
std::shared_ptr<spdlog::logger> Logger(const std::string& component);

/// The formatter every logger gets: redacts personal data (log_line.hpp), then renders the line
/// as text or, with `json`, as one JSON object. For tests that log into a sink of their own.
std::unique_ptr<spdlog::formatter> MakeLineFormatter(bool json);

}  // namespace kyc_bridge::core
