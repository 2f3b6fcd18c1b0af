// SPDX-License-Identifier: Apache-2.0
// The ops CLI against a running daemon's store: failures listed with their class, a dry run that
// changes nothing, a filtered bulk replay that provisions and is audited, no Auth0 secret needed,
// a missing store refused, and check-config against the emulator.
#include <filesystem>
#include <fstream>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct CliRun {
    int code = -1;
    std::string output;  ///< stdout and stderr
};

class CliTest : public PipelineTest {
protected:
    CliRun Cli(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
        const auto log = dir_ + "/cli-" + std::to_string(++runs_) + ".txt";
        args.insert(args.begin(), RequiredEnv("KYC_BRIDGE"));
        ChildProcess cli(args, env, log);
        CliRun run;
        run.code = cli.WaitExit(20s).value_or(-1);
        std::ifstream in(log);
        run.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        return run;
    }
    /// `args` on the daemon's config, with --json; the output's JSON lines.
    std::vector<json> JsonLines(std::vector<std::string> args, int expected_code = 0) {
        args.insert(args.end(), {"--json", "--config", dir_ + "/config.toml"});
        auto run = Cli(args);
        EXPECT_EQ(run.code, expected_code) << run.output;
        std::vector<json> lines;
        std::istringstream in(run.output);
        for (std::string line; std::getline(in, line);) {
            auto parsed = json::parse(line, nullptr, false);
            EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
            if (!parsed.is_discarded()) lines.push_back(parsed);
        }
        return lines;
    }
    std::string WriteToml(const std::string& name, const std::string& text) {
        const auto path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }
    std::string Auth0Toml(bool with_secret) {
        return "[kafka]\nbrokers = \"" + brokers_ + "\"\n[auth0]\nbase_url = \"" + emulator_url_ +
               "\"\nallow_insecure_http = true\nclient_id = \"it-client\"\n" +
               (with_secret ? "client_secret = \"it-secret\"\n" : "") +
               "roles = [\"ROLE_CUSTOMER\"]\n[store]\npath = \"" + dir_ +
               "/store/kyc-bridge.db\"\n";
    }
    int runs_ = 0;
};

TEST_F(CliTest, APermanentFailureIsListedReplayedInBulkToSuccessAndAudited) {
    StartEmulator();
    EmulatorPost("/__emulator/reject-email", {{"email", "cus_cli_1@example.com"}, {"status", 400}});
    StartDaemon();
    Publish({{"cus_cli_0", KycEvent("evt-cli-0", "cus_cli_0", "cus_cli_0@example.com").dump()},
             {"cus_cli_1", KycEvent("evt-cli-1", "cus_cli_1", "cus_cli_1@example.com").dump()},
             {"cus_cli_2", KycEvent("evt-cli-2", "cus_cli_2", "cus_cli_2@example.com").dump()}});
    WaitUntil([&] { return PublishedCustomers().size() >= 2 && JobStates()["failed"] == 1; }, 30s,
              "two customers published and one job failed");

    auto failed = JsonLines({"failed", "list"});
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0]["customer_id"], "cus_cli_1");
    EXPECT_EQ(failed[0]["error_class"], "permanent");
    EXPECT_TRUE(JsonLines({"failed", "list", "--error-class", "conflict"}).empty());
    EXPECT_EQ(JsonLines({"failed", "list", "--since", "1h", "--customer", "cus_cli_1"}).size(), 1u);
    const auto job_id = failed[0]["job_id"].get<std::int64_t>();
    auto shown = JsonLines({"failed", "show", std::to_string(job_id)});
    ASSERT_EQ(shown.size(), 1u);
    ASSERT_FALSE(shown[0]["attempt_errors"].empty()) << shown[0].dump();
    EXPECT_EQ(shown[0]["attempt_errors"].back()["class"], "permanent");
    EXPECT_EQ(shown[0].dump().find("@example.com"), std::string::npos) << "no email";

    // The same store without the Auth0 secret: only store.* is read.
    const auto no_secret = WriteToml("no-secret.toml", "[auth0]\nclient_secret_file = \"" + dir_ +
                                                           "/absent-secret\"\n[store]\npath = \"" +
                                                           dir_ + "/store/kyc-bridge.db\"\n");
    auto listed =
        Cli({"failed", "list", "--config", no_secret}, {{"KYC_BRIDGE_AUTH0_CLIENT_SECRET", ""}});
    EXPECT_EQ(listed.code, 0) << listed.output;
    EXPECT_NE(listed.output.find("cus_cli_1"), std::string::npos) << listed.output;

    auto dry = JsonLines({"replay", "--all-failed", "--error-class", "permanent", "--dry-run",
                          "--reason", "try it"});
    ASSERT_EQ(dry.size(), 1u);
    EXPECT_EQ(dry[0]["selected"].size(), 1u);
    EXPECT_TRUE(dry[0]["replayed"].empty());
    EXPECT_EQ(JobStates()["failed"], 1) << "a dry run changes nothing";
    EXPECT_TRUE(JsonLines({"audit", "list"}).empty());
    EXPECT_EQ(UsersByCustomer().count("cus_cli_1"), 0u);

    EmulatorPost("/__emulator/reset", json::object());  // the fault is gone (so are tokens, users)
    auto replayed = JsonLines({"replay", "--all-failed", "--error-class", "permanent",
                               "--max-per-second", "10", "--reason", "email validator fixed"});
    ASSERT_EQ(replayed.size(), 1u);
    EXPECT_EQ(replayed[0]["replayed"], json::array({job_id}));
    WaitUntil(
        [&] { return UsersByCustomer().count("cus_cli_1") == 1 && JobStates()["failed"] == 0; },
        20s, "the replayed job provisioned by the running daemon");
    WaitUntil([&] { return PublishedCustomers().count("cus_cli_1") == 1; }, 20s,
              "cus_cli_1 on auth.user_created");

    auto audit = JsonLines({"audit", "list", "--since", "1h"});
    ASSERT_EQ(audit.size(), 1u);
    EXPECT_EQ(audit[0]["action"], "replay");
    EXPECT_EQ(audit[0]["job_id"], job_id);
    EXPECT_EQ(audit[0]["reason"], "email validator fixed");
    EXPECT_FALSE(audit[0]["os_user"].get<std::string>().empty());
    EXPECT_FALSE(audit[0]["host"].get<std::string>().empty());
    auto status = JsonLines({"status"});
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(status[0]["jobs"]["failed"], 0);
    EXPECT_TRUE(status[0]["quarantine"].contains("state"));
    // Nothing is failed any more: a second replay has nothing to do.
    JsonLines({"replay", "--all-failed", "--reason", "again"}, 3);
    EXPECT_EQ(StopDaemon(), 0);
}

TEST_F(CliTest, AMissingStoreIsRefusedAndNotCreated) {
    const auto missing = dir_ + "/typo/kyc-bridge.db";
    const auto config = WriteToml("typo.toml", "[store]\npath = \"" + missing + "\"\n");
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"status", "--config", config}, {"failed", "list", "--store", missing}}) {
        auto run = Cli(args);
        EXPECT_NE(run.code, 0) << run.output;
        EXPECT_NE(run.output.find(missing), std::string::npos) << "names the path: " << run.output;
    }
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/typo")) << "no new empty store";
}

TEST_F(CliTest, CheckConfigChecksTokenScopesRolesAndTopics) {
    StartEmulator();
    const auto config = WriteToml("check.toml", Auth0Toml(true));
    auto ok = Cli({"check-config", "--config", config, "--json"});
    ASSERT_EQ(ok.code, 0) << ok.output;
    auto report = json::parse(ok.output);
    EXPECT_TRUE(report["ok"].get<bool>()) << report.dump();
    EXPECT_EQ(report["config"]["auth0.client_secret"], "***");
    EXPECT_EQ(ok.output.find("it-secret"), std::string::npos) << "the secret is never printed";
    EXPECT_TRUE(report["roles"]["resolved"].get<bool>());
    EXPECT_TRUE(report["kafka"]["exists"][kOutputTopic].get<bool>());

    EmulatorPost(
        "/__emulator/scopes",
        {{"scopes", {"read:users", "create:users", "update:users", "create:role_members"}}});
    auto missing = Cli({"check-config", "--config", config});
    EXPECT_EQ(missing.code, 1) << missing.output;
    EXPECT_NE(missing.output.find("scope missing: read:roles"), std::string::npos)
        << missing.output;

    auto no_secret = Cli({"check-config", "--config", WriteToml("bad.toml", Auth0Toml(false))},
                         {{"KYC_BRIDGE_AUTH0_CLIENT_SECRET", ""}});
    EXPECT_EQ(no_secret.code, 2) << "check-config needs the secret: " << no_secret.output;
    auto bad_topic = Cli({"check-config", "--config", config},
                         {{"KYC_BRIDGE_KAFKA_OUTPUT_TOPIC", "no.such.topic"}});
    EXPECT_NE(bad_topic.output.find("topic missing: no.such.topic"), std::string::npos)
        << bad_topic.output;
}

}  // namespace
}  // namespace kyc_bridge::testing
