// SPDX-License-Identifier: Apache-2.0
// One stderr sink shared by every component logger.
#include "kyc_bridge/core/logging.hpp"

#include <mutex>
#include <stdexcept>

#include <spdlog/sinks/stdout_sinks.h>

namespace kyc_bridge::core {
namespace {

std::mutex registry_mutex;
spdlog::level::level_enum configured_level = spdlog::level::info;
std::string configured_pattern = "%Y-%m-%dT%H:%M:%S.%e%z %l %n: %v";

// JSON lines: the message itself is already key=value text, so it is one escaped string field.
constexpr const char* kJsonPattern =
    R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","component":"%n","msg":"%v"})";

}  // namespace

void SetUpLogging(const std::string& level, const std::string& format) {
    auto parsed = spdlog::level::from_str(level);
    if (parsed == spdlog::level::off && level != "off") {
        throw std::invalid_argument("unknown log level '" + level + "'");
    }
    if (format != "text" && format != "json") {
        throw std::invalid_argument("unknown log format '" + format + "' (expected text or json)");
    }
    std::lock_guard lock(registry_mutex);
    configured_level = parsed;
    configured_pattern = format == "json" ? kJsonPattern : configured_pattern;
    spdlog::set_level(parsed);
    spdlog::set_pattern(configured_pattern);
}

std::shared_ptr<spdlog::logger> Logger(const std::string& component) {
    std::lock_guard lock(registry_mutex);
    if (auto existing = spdlog::get(component)) return existing;
    auto logger = std::make_shared<spdlog::logger>(
        component, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_level(configured_level);
    logger->set_pattern(configured_pattern);
    spdlog::register_logger(logger);
    return logger;
}

}  // namespace kyc_bridge::core
