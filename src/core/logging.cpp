// SPDX-License-Identifier: Apache-2.0
// One stderr sink shared by every component logger; one formatter that redacts and renders.
#include "kyc_bridge/core/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>
#include <stdexcept>

#include "kyc_bridge/core/log_line.hpp"

namespace kyc_bridge::core {
namespace {

std::mutex registry_mutex;
spdlog::level::level_enum configured_level = spdlog::level::info;
bool configured_json = false;

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%e%z %l %n: %v";
constexpr const char* kTimePattern = "%Y-%m-%dT%H:%M:%S.%e%z";

/// Redacts every message (the safety net under "no personal data in logs"), then renders it
/// as text (the pattern above) or as one JSON object per line. spdlog calls it under the sink's
/// lock, so its pattern formatter's cache needs none of its own.
class LineFormatter final : public spdlog::formatter {
public:
    explicit LineFormatter(bool json)
        : json_(json),
          pattern_(std::make_unique<spdlog::pattern_formatter>(
              json ? kTimePattern : kTextPattern, spdlog::pattern_time_type::local,
              json ? "" : spdlog::details::os::default_eol)) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const std::string message =
            RedactPersonalData(std::string_view(msg.payload.data(), msg.payload.size()));
        if (!json_) {
            spdlog::details::log_msg redacted = msg;
            redacted.payload = message;
            pattern_->format(redacted, dest);
            return;
        }
        spdlog::memory_buf_t time;
        pattern_->format(msg, time);
        const auto level = spdlog::level::to_string_view(msg.level);
        const auto line =
            JsonLogLine(std::string_view(time.data(), time.size()),
                        std::string_view(level.data(), level.size()),
                        std::string_view(msg.logger_name.data(), msg.logger_name.size()), message);
        dest.append(line.data(), line.data() + line.size());
        const std::string_view eol = spdlog::details::os::default_eol;
        dest.append(eol.data(), eol.data() + eol.size());
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<LineFormatter>(json_);
    }

private:
    bool json_;
    std::unique_ptr<spdlog::pattern_formatter> pattern_;
};

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
    configured_json = format == "json";
    spdlog::set_level(parsed);
    spdlog::set_formatter(std::make_unique<LineFormatter>(configured_json));
}

std::shared_ptr<spdlog::logger> Logger(const std::string& component) {
    std::lock_guard lock(registry_mutex);
    if (auto existing = spdlog::get(component)) return existing;
    auto logger = std::make_shared<spdlog::logger>(
        component, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_level(configured_level);
    logger->set_formatter(std::make_unique<LineFormatter>(configured_json));
    spdlog::register_logger(logger);
    return logger;
}

std::unique_ptr<spdlog::formatter> MakeLineFormatter(bool json) {
    return std::make_unique<LineFormatter>(json);
}

}  // namespace kyc_bridge::core
