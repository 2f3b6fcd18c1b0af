// SPDX-License-Identifier: Apache-2.0
// The line formatter on a real spdlog logger: JSON that parses, redaction in both formats.
#include "kyc_bridge/core/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "kyc_bridge/core/log_limiter.hpp"

namespace kyc_bridge::core {
namespace {

struct Captured {
    explicit Captured(bool json)
        : logger("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)) {
        logger.set_formatter(MakeLineFormatter(json));
        logger.set_level(spdlog::level::trace);
    }
    std::vector<std::string> Lines() {
        std::vector<std::string> lines;
        std::istringstream in(out.str());
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        return lines;
    }
    std::ostringstream out;
    spdlog::logger logger;
};

TEST(LineFormatter, JsonLinesParseAndCarryTheFields) {
    Captured log(/*json=*/true);
    log.logger.warn("event=kafka_error code={} reason=\"{}\"", "_TRANSPORT",
                    "a \"quoted\" \\ reason\nover two lines");
    log.logger.debug("event=x email=jane@example.com");
    const auto lines = log.Lines();
    ASSERT_EQ(lines.size(), 2u);
    auto first = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(first["level"], "warning");
    EXPECT_EQ(first["component"], "test");
    EXPECT_EQ(first["reason"], "a \"quoted\" \\ reason\nover two lines");
    EXPECT_FALSE(first["time"].get<std::string>().empty());
    auto second = nlohmann::json::parse(lines[1]);
    EXPECT_EQ(second["email"], "<redacted>");
}

TEST(LineFormatter, TextLinesKeepTheirFormButAreRedacted) {
    Captured log(/*json=*/false);
    log.logger.info("event=job_done job_id=5 note=\"jane@example.com\"");
    const auto lines = log.Lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find(" info test: event=job_done job_id=5 note=\"<redacted>\""),
              std::string::npos)
        << lines[0];
    EXPECT_EQ(lines[0].find("jane"), std::string::npos);
}

TEST(LogLimited, RepeatedLinesAreDroppedAndCounted) {
    Captured log(/*json=*/false);
    for (int i = 0; i < 3; ++i) {
        LogLimited(log.logger, spdlog::level::warn, "logging_test/repeat", "event=repeat n={}", i);
    }
    LogLimited(log.logger, spdlog::level::debug, "logging_test/other", "event=other {}", "{}");
    const auto lines = log.Lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[0].find("event=repeat n=0"), std::string::npos);
    EXPECT_EQ(lines[0].find("suppressed"), std::string::npos);
    EXPECT_NE(lines[1].find("event=other {}"), std::string::npos);
}

TEST(SetUpLogging, RejectsUnknownLevelOrFormat) {
    EXPECT_THROW(SetUpLogging("loud", "text"), std::invalid_argument);
    EXPECT_THROW(SetUpLogging("info", "xml"), std::invalid_argument);
}

}  // namespace
}  // namespace kyc_bridge::core
