// SPDX-License-Identifier: Apache-2.0
// `kyc-bridge tenant plan|apply` (the real binary) against the Auth0 emulator process, judged by
// the exit codes, the --json plan and the emulator's Management API. No Kafka needed.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "child_process.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kApi = "https://mockbank/api";

/// MockBank's tenant, as config/tenant.toml declares it (that file is checked by the unit test).
std::string TenantToml(const std::string& ops_permissions, bool with_service_role = true,
                       bool with_grant = true) {
    std::string text =
        "[[resource_servers]]\nidentifier = \"https://mockbank/api\"\nname = \"MockBank API\"\n"
        "enforce_policies = true\ntoken_dialect = \"access_token_authz\"\n";
    for (const char* scope : {"fdx:accounts.read", "fdx:transactions.read",
                              "fdx:transactions.write", "fdx:customers.read"}) {
        text += "[[resource_servers.scopes]]\nvalue = \"" + std::string(scope) +
                "\"\ndescription = \"" + scope + " access\"\n";
    }
    auto role = [](const std::string& name, const std::vector<std::string>& permissions) {
        std::string r = "[[roles]]\nname = \"" + name + "\"\ndescription = \"" + name +
                        " at MockBank\"\npermissions = [\n";
        for (const auto& p : permissions) {
            r += "  { resource_server_identifier = \"https://mockbank/api\", permission_name = \"" +
                 p + "\" },\n";
        }
        return r + "]\n";
    };
    text += role("ROLE_CUSTOMER",
                 {"fdx:accounts.read", "fdx:transactions.read", "fdx:transactions.write"});
    std::vector<std::string> ops;
    std::istringstream words(ops_permissions);
    for (std::string w; words >> w;) ops.push_back(w);
    text += role("ROLE_OPS", ops);
    if (with_service_role) text += role("ROLE_SERVICE", {"fdx:customers.read"});
    if (with_grant) {
        text +=
            "[[client_grants]]\nscope = [\"create:users\", \"read:users\", \"update:users\", "
            "\"read:roles\", \"create:role_members\"]\n";
    }
    return text;
}

const std::string kOps = "fdx:accounts.read fdx:customers.read";

struct CliRun {
    int code = -1;
    std::string output;
    std::vector<json> lines;  ///< the output's JSON lines
};

class TenantTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = MakeTempDir("kyc-bridge-tenant-");
        // An empty tenant: no API, no grant, no role (the emulator's default role left out).
        emulator_ = std::make_unique<ChildProcess>(
            std::vector<std::string>{
                RequiredEnv("AUTH0_EMULATOR"), "--listen", "127.0.0.1:0", "--port-file",
                dir_ + "/emulator.port", "--client-id", "it-client", "--client-secret", "it-secret",
                "--roles", "", "--scopes",
                "read:resource_servers,create:resource_servers,update:resource_servers,"
                "delete:resource_servers,read:roles,create:roles,update:roles,delete:roles,"
                "read:client_grants,create:client_grants,update:client_grants,"
                "delete:client_grants"},
            std::map<std::string, std::string>{}, dir_ + "/emulator.log");
        url_ = "http://127.0.0.1:" + WaitForFile(dir_ + "/emulator.port", 20s);
        // `--roles ""` still seeds one role named "": delete it, for a tenant with no role.
        for (const auto& role : Get("/api/v2/roles"))
            Delete("/api/v2/roles/" + role["id"].get<std::string>());
        ASSERT_TRUE(Get("/api/v2/roles").empty());
        // The secret from the environment, as the daemon takes it.
        std::ofstream(dir_ + "/config.toml")
            << "[auth0]\ndomain = \"mockbank.eu.auth0.com\"\nbase_url = \"" << url_
            << "\"\nallow_insecure_http = true\nclient_id = \"it-client\"\n";
    }
    void TearDown() override {
        emulator_.reset();
        if (!HasFailure()) std::filesystem::remove_all(dir_);
    }

    /// `kyc-bridge tenant VERB --tenant <file> --config <config> [extra] --json`.
    CliRun TenantCli(const std::string& verb, const std::string& tenant_toml,
                     std::vector<std::string> extra = {}) {
        const auto n = std::to_string(++runs_);
        const auto file = dir_ + "/tenant-" + n + ".toml";
        std::ofstream(file) << tenant_toml;
        std::vector<std::string> args{
            RequiredEnv("KYC_BRIDGE"), "tenant", verb, "--tenant", file, "--config",
            dir_ + "/config.toml",     "--json"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto log = dir_ + "/cli-" + n + ".txt";
        ChildProcess cli(args, {{"KYC_BRIDGE_AUTH0_CLIENT_SECRET", "it-secret"}}, log);
        CliRun run;
        run.code = cli.WaitExit(60s).value_or(-1);
        std::ifstream in(log);
        run.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        std::istringstream lines(run.output);
        for (std::string line; std::getline(lines, line);) {
            auto parsed = json::parse(line, nullptr, false);
            if (parsed.is_object()) run.lines.push_back(parsed);
        }
        return run;
    }

    /// A Management API GET with a token of the emulator's client, as Auth0's state.
    json Get(const std::string& path) {
        httplib::Client client(url_);
        if (token_.empty()) {
            auto answer = client.Post("/oauth/token",
                                      json({{"grant_type", "client_credentials"},
                                            {"client_id", "it-client"},
                                            {"client_secret", "it-secret"},
                                            {"audience", "https://mockbank.eu.auth0.com/api/v2/"}})
                                          .dump(),
                                      "application/json");
            EXPECT_TRUE(answer && answer->status == 200);
            token_ = json::parse(answer->body)["access_token"];
        }
        auto answer = client.Get(path, {{"Authorization", "Bearer " + token_}});
        EXPECT_TRUE(answer && answer->status == 200) << path;
        return answer ? json::parse(answer->body, nullptr, false) : json();
    }
    void Delete(const std::string& path) {
        httplib::Client client(url_);
        auto answer = client.Delete(path, {{"Authorization", "Bearer " + token_}});
        EXPECT_TRUE(answer && answer->status / 100 == 2) << path;
    }
    std::map<std::string, std::string> RoleIds() {
        std::map<std::string, std::string> ids;
        for (const auto& role : Get("/api/v2/roles")) ids[role["name"]] = role["id"];
        return ids;
    }
    std::set<std::string> PermissionsOf(const std::string& role_name) {
        std::set<std::string> names;
        for (const auto& p : Get("/api/v2/roles/" + RoleIds().at(role_name) + "/permissions")) {
            EXPECT_EQ(p["resource_server_identifier"], kApi);
            names.insert(p["permission_name"]);
        }
        return names;
    }

    std::string dir_;
    std::string url_;
    std::string token_;
    int runs_ = 0;
    std::unique_ptr<ChildProcess> emulator_;
};

TEST_F(TenantTest, PlanOnAnEmptyTenantListsEverythingApplyCreatesItAndASecondPlanIsEmpty) {
    const auto file = TenantToml(kOps);
    auto plan = TenantCli("plan", file);
    EXPECT_EQ(plan.code, 2) << plan.output;
    std::vector<std::string> planned;
    for (const auto& c : plan.lines)
        planned.push_back(c["action"].get<std::string>() + " " + c["kind"].get<std::string>() +
                          " " + c["key"].get<std::string>());
    EXPECT_EQ(planned, (std::vector<std::string>{
                           "create resource_server https://mockbank/api",
                           "create role ROLE_CUSTOMER",
                           "create role ROLE_OPS",
                           "create role ROLE_SERVICE",
                           "create client_grant it-client → https://mockbank.eu.auth0.com/api/v2/",
                       }));
    // plan changed nothing
    EXPECT_TRUE(Get("/api/v2/resource-servers").empty());

    auto apply = TenantCli("apply", file);
    ASSERT_EQ(apply.code, 0) << apply.output;

    const auto servers = Get("/api/v2/resource-servers");
    ASSERT_EQ(servers.size(), 1u);
    EXPECT_EQ(servers[0]["identifier"], kApi);
    EXPECT_EQ(servers[0]["name"], "MockBank API");
    EXPECT_EQ(servers[0]["enforce_policies"], true);
    EXPECT_EQ(servers[0]["token_dialect"], "access_token_authz");
    EXPECT_EQ(servers[0]["scopes"].size(), 4u);
    EXPECT_EQ(RoleIds().size(), 3u);
    EXPECT_EQ(PermissionsOf("ROLE_OPS"),
              (std::set<std::string>{"fdx:accounts.read", "fdx:customers.read"}));
    const auto grants = Get("/api/v2/client-grants");
    ASSERT_EQ(grants.size(), 1u);
    EXPECT_EQ(grants[0]["client_id"], "it-client");
    EXPECT_EQ(grants[0]["audience"], "https://mockbank.eu.auth0.com/api/v2/");
    EXPECT_EQ(grants[0]["scope"].get<std::set<std::string>>(),
              (std::set<std::string>{"create:users", "read:users", "update:users", "read:roles",
                                     "create:role_members"}));

    auto again = TenantCli("plan", file);
    EXPECT_EQ(again.code, 0) << again.output;
    EXPECT_TRUE(again.lines.empty()) << again.output;
    auto pruned = TenantCli("plan", file, {"--prune"});
    EXPECT_EQ(pruned.code, 0) << pruned.output;
}

TEST_F(TenantTest, ChangingARolesPermissionsPlansExactlyThatChange) {
    ASSERT_EQ(TenantCli("apply", TenantToml(kOps)).code, 0);
    const auto changed = TenantToml("fdx:accounts.read fdx:transactions.read");

    auto plan = TenantCli("plan", changed);
    EXPECT_EQ(plan.code, 2) << plan.output;
    ASSERT_EQ(plan.lines.size(), 1u) << plan.output;
    const auto& change = plan.lines[0];
    EXPECT_EQ(change["action"], "update");
    EXPECT_EQ(change["kind"], "role");
    EXPECT_EQ(change["key"], "ROLE_OPS");
    EXPECT_EQ(change["permissions_added"],
              json::array({{{"resource_server_identifier", kApi},
                            {"permission_name", "fdx:transactions.read"}}}));
    EXPECT_EQ(change["permissions_removed"],
              json::array({{{"resource_server_identifier", kApi},
                            {"permission_name", "fdx:customers.read"}}}));

    ASSERT_EQ(TenantCli("apply", changed).code, 0);
    EXPECT_EQ(PermissionsOf("ROLE_OPS"),
              (std::set<std::string>{"fdx:accounts.read", "fdx:transactions.read"}));
    EXPECT_EQ(PermissionsOf("ROLE_CUSTOMER").size(), 3u);  // untouched
    EXPECT_EQ(TenantCli("plan", changed).code, 0);
}

TEST_F(TenantTest, PruneDeletesWhatTheFileNoLongerHasAndNothingIsDeletedWithoutIt) {
    ASSERT_EQ(TenantCli("apply", TenantToml(kOps)).code, 0);
    const auto smaller = TenantToml(kOps, /*with_service_role=*/false, /*with_grant=*/false);

    auto plan = TenantCli("plan", smaller);
    EXPECT_EQ(plan.code, 0) << plan.output;
    EXPECT_TRUE(plan.lines.empty()) << plan.output;
    ASSERT_EQ(TenantCli("apply", smaller).code, 0);
    EXPECT_EQ(RoleIds().count("ROLE_SERVICE"), 1u);
    EXPECT_EQ(Get("/api/v2/client-grants").size(), 1u);

    auto prune_plan = TenantCli("plan", smaller, {"--prune"});
    EXPECT_EQ(prune_plan.code, 2) << prune_plan.output;
    std::vector<std::string> planned;
    for (const auto& c : prune_plan.lines)
        planned.push_back(c["action"].get<std::string>() + " " + c["kind"].get<std::string>());
    EXPECT_EQ(planned, (std::vector<std::string>{"delete client_grant", "delete role"}));

    ASSERT_EQ(TenantCli("apply", smaller, {"--prune"}).code, 0);
    EXPECT_EQ(RoleIds().count("ROLE_SERVICE"), 0u);
    EXPECT_EQ(RoleIds().size(), 2u);
    EXPECT_TRUE(Get("/api/v2/client-grants").empty());
    EXPECT_EQ(Get("/api/v2/resource-servers").size(), 1u);
    EXPECT_EQ(TenantCli("plan", smaller, {"--prune"}).code, 0);
}

TEST_F(TenantTest, AnUnknownKeyIsAnErrorAndChangesNothing) {
    auto run = TenantCli("apply", TenantToml(kOps) + "colour = \"red\"\n");
    EXPECT_EQ(run.code, 1);
    EXPECT_NE(run.output.find("unknown key"), std::string::npos) << run.output;
    EXPECT_TRUE(Get("/api/v2/resource-servers").empty());
}

}  // namespace
}  // namespace kyc_bridge::testing
