// SPDX-License-Identifier: Apache-2.0
// Issue #8 "Logs": at debug level in JSON, every line of the daemon's output is one JSON object
// (librdkafka's own lines too), each job outcome is one line, and no personal data, token or
// secret is ever written.
#include <httplib.h>

#include <sstream>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Customer {
    std::string id, email, given, family, phone;
};

const std::vector<Customer> kCustomers = {
    {"cus_log_1", "Quintessa.Logtest@example.com", "Quintessa", "Vandersloot", "+4915112345671"},
    {"cus_log_2", "bartholomew.logtest@example.org", "Bartholomew", "Oyelaran", "+4915112345672"},
    {"cus_log_3", "cordelia+kyc@example.net", "Cordelia", "Wrzesniewski", "+4915112345673"},
    // Already in Auth0 under another id: the create call answers 409, the user is adopted.
    {"cus_log_4", "existing.logtest@example.com", "Evangelina", "Thistlewood", "+4915112345674"},
    // Auth0 refuses the email with a message that quotes it: the job fails for good.
    {"cus_log_5", "refused.logtest@example.com", "Rosalind", "Featherstonehaugh", "+4915112345675"},
    // Refused with a message quoting the email in words kyc-bridge's scrubber does not know.
    {"cus_log_6", "blocked.logtest@example.com", "Peregrine", "Abernethy", "+4915112345676"},
};

json EventOf(const Customer& c, const std::string& event_id) {
    auto event = KycEvent(event_id, c.id, c.email, c.given);
    event["family_name"] = c.family;
    event["phone_number"] = c.phone;
    return event;
}

class LogTest : public PipelineTest {
protected:
    /// An access token the emulator issues for the test client: the log must hold none of its
    /// kind.
    std::string FetchToken() {
        httplib::Client client(emulator_url_);
        auto r = client.Post("/oauth/token",
                             json{{"grant_type", "client_credentials"},
                                  {"client_id", "it-client"},
                                  {"client_secret", "it-secret"},
                                  {"audience", emulator_url_ + "/api/v2/"}}
                                 .dump(),
                             "application/json");
        if (!r || r->status != 200) return "";
        return json::parse(r->body).value("access_token", "");
    }
};

TEST_F(LogTest, DebugJsonLinesAllParseAndCarryNoPersonalDataOrSecrets) {
    StartEmulator();
    EmulatorPost("/__emulator/users", {{"user_id", "auth0|legacy-log-4"},
                                       {"email", kCustomers[3].email},
                                       {"given_name", kCustomers[3].given}});
    EmulatorPost("/__emulator/reject-email", {{"email", kCustomers[4].email}});
    EmulatorPost("/__emulator/reject-email",
                 {{"email", kCustomers[5].email},
                  {"message", "The address " + kCustomers[5].email + " is blocked by policy"}});

    std::vector<std::pair<std::string, std::string>> events;
    for (std::size_t i = 0; i < kCustomers.size(); ++i) {
        events.emplace_back(kCustomers[i].id,
                            EventOf(kCustomers[i], "evt-log-" + std::to_string(i)).dump());
    }
    events.push_back(events.front());  // an exact duplicate
    events.emplace_back("cus_log_bad_1", "{\"email\": \"poison.logtest@example.com\", oops");
    auto bad_email = EventOf(
        {"cus_log_bad_2", "not-an-email Poisonella", "Poisonella", "Malbranche", "+4915112345679"},
        "evt-log-bad-2");
    events.emplace_back("cus_log_bad_2", bad_email.dump());

    StartDaemon({{"KYC_BRIDGE_LOG_LEVEL", "debug"}, {"KYC_BRIDGE_LOG_FORMAT", "json"}});
    Publish(events);
    WaitUntil(
        [&] {
            auto states = JobStates();
            return states["done"] == 4 && states["failed"] == 2 &&
                   ReadTopic(kDeadLetterTopic).size() >= 2;
        },
        60s, "4 jobs done, 2 failed, 2 dead letters");
    const auto token = FetchToken();
    ASSERT_EQ(token.rfind("emu_", 0), 0u) << "the emulator's tokens start with emu_: " << token;
    EXPECT_EQ(StopDaemon(), 0);

    const auto log = WaitForFile(dir_ + "/daemon.log", 5s);
    std::istringstream in(log);
    std::vector<json> lines;
    int number = 0;
    for (std::string line; std::getline(in, line);) {
        ++number;
        json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
        ASSERT_TRUE(parsed.is_object()) << "line " << number << " is not a JSON object: " << line;
        for (const char* member : {"time", "level", "component", "msg"}) {
            EXPECT_TRUE(parsed.contains(member)) << member << " missing in line " << number;
        }
        lines.push_back(std::move(parsed));
    }
    ASSERT_GT(lines.size(), 10u) << log;

    // Nothing personal, no credential: not the test's values, not any emulator token.
    std::vector<std::string> forbidden = {"it-secret",  token,       "emu_",       "@example",
                                          "%40example", "logtest",   "Poisonella", "Malbranche",
                                          "+49151",     "4915112345"};
    for (const auto& c : kCustomers) {
        forbidden.insert(forbidden.end(), {c.email, c.given, c.family, c.phone});
    }
    for (const auto& needle : forbidden) {
        EXPECT_EQ(log.find(needle), std::string::npos) << "'" << needle << "' in the log:\n" << log;
    }

    // librdkafka's own lines come through the kafka logger as JSON (the fixture sets consumer
    // properties that the producer warns about).
    auto count = [&](const std::function<bool(const json&)>& match) {
        return std::count_if(lines.begin(), lines.end(), match);
    };
    EXPECT_GE(count([](const json& l) {
                  return l["component"] == "kafka" && l.value("event", "") == "librdkafka" &&
                         l.contains("facility");
              }),
              1)
        << log;
    EXPECT_GE(count([](const json& l) { return l["level"] == "debug"; }), 1) << "debug level";

    // One line per job outcome, with what an operator looks a job up by.
    std::map<std::string, json> done;
    for (const auto& l : lines) {
        if (l.value("event", "") == "job_done") done[l.value("customer_id", "")] = l;
    }
    ASSERT_EQ(done.size(), 4u) << log;
    for (const auto& [customer, l] : done) {
        for (const char* member :
             {"event_id", "auth0_user_id", "outcome", "attempts", "duration_ms"}) {
            EXPECT_TRUE(l.contains(member)) << member << " missing: " << l.dump();
        }
        EXPECT_FALSE(l.value("auth0_user_id", "").empty()) << l.dump();
    }
    EXPECT_EQ(done["cus_log_1"]["outcome"], "created");
    EXPECT_EQ(done["cus_log_1"]["event_id"], "evt-log-0");
    EXPECT_EQ(done["cus_log_1"]["auth0_user_id"], "auth0|cus_log_1");
    EXPECT_EQ(done["cus_log_4"]["outcome"], "existing");
    EXPECT_EQ(done["cus_log_4"]["auth0_user_id"], "auth0|legacy-log-4");
    const auto failed = count([](const json& l) {
        return l.value("event", "") == "job_failed" && l.value("outcome", "") == "failed" &&
               l.contains("event_id") && l.contains("attempts") && l.contains("duration_ms");
    });
    EXPECT_EQ(failed, 2) << log;
}

}  // namespace
}  // namespace kyc_bridge::testing
