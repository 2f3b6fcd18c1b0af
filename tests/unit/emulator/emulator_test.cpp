// SPDX-License-Identifier: Apache-2.0
// The emulator is only useful if it answers like Auth0: these pin down the behaviour the daemon
// relies on (auth0-facts.md sections in brackets).
#include "emulator.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <thread>

namespace auth0_emulator {
namespace {

using nlohmann::json;

class EmulatorTest : public ::testing::Test {
protected:
    void Start(Options options = {}) {
        options.client_id = "c";
        options.client_secret = "s";
        options.roles = {"ROLE_CUSTOMER", "ROLE_CUSTOMER_ADMIN"};
        emulator_ = std::make_unique<Emulator>(options);
        emulator_->Register(server_);
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds{5});
        client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    }
    void TearDown() override {
        server_.stop();
        if (thread_.joinable()) thread_.join();
    }
    std::string Token() {
        auto r = client_->Post("/oauth/token",
                               "grant_type=client_credentials&client_id=c&client_secret=s&audience="
                               "https%3A%2F%2Ft%2Fapi%2Fv2%2F",
                               "application/x-www-form-urlencoded");
        EXPECT_EQ(r->status, 200);
        return json::parse(r->body)["access_token"];
    }
    httplib::Result Call(const std::string& method, const std::string& path,
                         const json& body = nullptr, const std::string& token = "") {
        httplib::Headers headers{{"Authorization", "Bearer " + (token.empty() ? token_ : token)}};
        if (method == "GET") return client_->Get(path.c_str(), headers);
        if (method == "PATCH")
            return client_->Patch(path.c_str(), headers, body.dump(), "application/json");
        return client_->Post(path.c_str(), headers, body.dump(), "application/json");
    }
    json NewUser(const std::string& id, const std::string& email) {
        return {{"user_id", id},
                {"connection", "Username-Password-Authentication"},
                {"email", email},
                {"password", "Unguessable-1234"},
                {"verify_email", false},
                {"app_metadata", {{"customer_id", id}, {"kyc", {{"level", 2}}}}}};
    }
    json Get(const std::string& path) { return json::parse(client_->Get(path.c_str())->body); }

    std::string RoleId() {
        return json::parse(Call("GET", "/api/v2/roles?name_filter=ROLE_CUSTOMER")->body)[0]["id"];
    }
    void CreateUsers(int n) {
        for (int i = 0; i < n; ++i) {
            const auto id = "cus_" + std::to_string(i);
            ASSERT_EQ(Call("POST", "/api/v2/users", NewUser(id, id + "@example.com"))->status, 201);
        }
    }
    json RolesByUser() {
        json roles = json::object();
        for (const auto& user : Get("/__emulator/users")) roles[user["user_id"]] = user["roles"];
        return roles;
    }

    httplib::Server server_;
    std::unique_ptr<Emulator> emulator_;
    std::unique_ptr<httplib::Client> client_;
    std::thread thread_;
    int port_ = 0;
    std::string token_;
};

TEST_F(EmulatorTest, TokenEndpointTakesFormJsonAndBasicAndRefusesBadCredentials) {
    Start();
    Token();
    auto json_body = client_->Post("/oauth/token",
                                   json{{"grant_type", "client_credentials"},
                                        {"client_id", "c"},
                                        {"client_secret", "s"},
                                        {"audience", "https://t/api/v2/"}}
                                       .dump(),
                                   "application/json");
    EXPECT_EQ(json_body->status, 200);
    client_->set_basic_auth("c", "s");
    auto basic = client_->Post(
        "/oauth/token", "grant_type=client_credentials&audience=https%3A%2F%2Ft%2Fapi%2Fv2%2F",
        "application/x-www-form-urlencoded");
    EXPECT_EQ(basic->status, 200);
    client_->set_basic_auth("c", "wrong");
    auto refused = client_->Post(
        "/oauth/token", "grant_type=client_credentials&audience=https%3A%2F%2Ft%2Fapi%2Fv2%2F",
        "application/x-www-form-urlencoded");
    EXPECT_EQ(refused->status, 401);  // [§2] observed: 401 access_denied "Unauthorized"
    EXPECT_EQ(json::parse(refused->body)["error"], "access_denied");
    EXPECT_EQ(Get("/__emulator/stats")["token_requests"], 4);
}

TEST_F(EmulatorTest, CreateIsIdempotentByIdAndEmailWithAuth0sConflictBody) {
    Start();
    token_ = Token();
    auto created = Call("POST", "/api/v2/users", NewUser("cus_1", "Jane@Example.com"));
    ASSERT_EQ(created->status, 201);
    auto user = json::parse(created->body);
    EXPECT_EQ(user["user_id"], "auth0|cus_1");     // [§3] strategy prefix
    EXPECT_EQ(user["email"], "jane@example.com");  // stored lower-case
    auto again = Call("POST", "/api/v2/users", NewUser("cus_1", "other@example.com"));
    EXPECT_EQ(again->status, 409);
    EXPECT_EQ(json::parse(again->body), json({{"statusCode", 409},
                                              {"error", "Conflict"},
                                              {"message", "The user already exists."},
                                              {"errorCode", "auth0_idp_error"}}));
    EXPECT_EQ(Call("POST", "/api/v2/users", NewUser("cus_2", "JANE@example.com"))->status, 409);
    EXPECT_EQ(Call("GET", "/api/v2/users/auth0%7Ccus_1")->status, 200);
    EXPECT_EQ(
        json::parse(Call("GET", "/api/v2/users-by-email?email=jane%40example.com")->body).size(),
        1u);
    EXPECT_EQ(
        json::parse(Call("GET", "/api/v2/users-by-email?email=Jane%40example.com")->body).size(),
        0u)
        << "[§4] users-by-email is case-sensitive";
    EXPECT_TRUE(Get("/__emulator/emails").empty()) << "verify_email:false sends nothing";
}

TEST_F(EmulatorTest, ValidationErrorsAreAuth0sPayloadValidationErrors) {
    Start();
    token_ = Token();
    auto extra = NewUser("cus_1", "a@example.com");
    extra["unexpected"] = 1;
    auto r = Call("POST", "/api/v2/users", extra);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(json::parse(r->body)["errorCode"], "invalid_body");
    auto bad_email = Call("POST", "/api/v2/users", NewUser("cus_1", "not-an-email"));
    EXPECT_EQ(bad_email->status, 400);
    EXPECT_NE(json::parse(bad_email->body)["message"].get<std::string>().find("format email"),
              std::string::npos);
    auto reserved = NewUser("cus_1", "a@example.com");
    reserved["app_metadata"]["email"] = "x";
    EXPECT_EQ(Call("POST", "/api/v2/users", reserved)->status, 400);  // [§3] reserved key
    auto no_flag = NewUser("cus_1", "a@example.com");
    no_flag.erase("verify_email");
    EXPECT_EQ(Call("POST", "/api/v2/users", no_flag)->status, 201);
    EXPECT_EQ(Get("/__emulator/emails")[0]["type"], "verification")
        << "[§3] without verify_email:false Auth0 sends a verification email";
}

TEST_F(EmulatorTest, PatchMergesMetadataAtTheFirstLevelAndNullDeletes) {
    Start();
    token_ = Token();
    Call("POST", "/api/v2/users", NewUser("cus_1", "a@example.com"));
    auto r = Call("PATCH", "/api/v2/users/auth0%7Ccus_1",
                  {{"given_name", "Jane"},
                   {"app_metadata",
                    {{"kyc", {{"status", "VERIFIED"}}}, {"customer_id", nullptr}, {"new", 1}}}});
    ASSERT_EQ(r->status, 200);
    auto metadata = json::parse(r->body)["app_metadata"];
    EXPECT_EQ(metadata,
              json({{"kyc", {{"status", "VERIFIED"}}}, {"new", 1}}))  // [§4] nested replaced whole
        << metadata.dump();
    EXPECT_EQ(Call("PATCH", "/api/v2/users/auth0%7Cnobody", {{"given_name", "x"}})->status, 404);
}

TEST_F(EmulatorTest, RolesFilterIsASubstringAndAssignmentAnswers204) {
    Start();
    token_ = Token();
    auto roles = json::parse(Call("GET", "/api/v2/roles?name_filter=role_customer")->body);
    EXPECT_EQ(roles.size(), 2u) << "[§5] the filter is not an exact match";
    Call("POST", "/api/v2/users", NewUser("cus_1", "a@example.com"));
    auto assigned =
        Call("POST", "/api/v2/users/auth0%7Ccus_1/roles", {{"roles", {roles[0]["id"]}}});
    EXPECT_EQ(assigned->status, 204);
    EXPECT_EQ(
        Call("POST", "/api/v2/users/auth0%7Ccus_1/roles", {{"roles", {roles[0]["id"]}}})->status,
        204);
    EXPECT_EQ(Get("/__emulator/users")[0]["roles"], json::array({"ROLE_CUSTOMER"}));
}

TEST_F(EmulatorTest, AnEmptyBucketAnswers429WithRateLimitHeaders) {
    Options options;
    options.rate_limit_per_second = 1;
    options.rate_limit_burst = 2;
    Start(options);
    token_ = Token();
    EXPECT_EQ(Call("GET", "/api/v2/roles")->status, 200);
    auto second = Call("GET", "/api/v2/roles");
    EXPECT_EQ(second->status, 200);
    EXPECT_EQ(second->get_header_value("x-ratelimit-limit"), "2");
    EXPECT_EQ(second->get_header_value("x-ratelimit-remaining"), "0");
    auto limited = Call("GET", "/api/v2/roles");
    EXPECT_EQ(limited->status, 429);
    EXPECT_EQ(json::parse(limited->body)["errorCode"], "too_many_requests");
    const long reset = std::stol(limited->get_header_value("x-ratelimit-reset"));
    EXPECT_GE(reset, static_cast<long>(std::time(nullptr)));  // [§1] UNIX seconds
    EXPECT_LE(reset, static_cast<long>(std::time(nullptr)) + 2);
    EXPECT_EQ(Get("/__emulator/stats")["rate_limited"], 1);
}

TEST_F(EmulatorTest, InvalidatedTokensAreExpiredAndMissingScopesAre403) {
    Start();
    token_ = Token();
    client_->Post("/__emulator/tokens/invalidate", "{}", "application/json");
    auto expired = Call("GET", "/api/v2/roles");
    EXPECT_EQ(expired->status, 401);
    EXPECT_EQ(json::parse(expired->body)["message"],
              "Expired token received for JSON Web Token validation");
    client_->Post("/__emulator/scopes", json{{"scopes", {"read:users"}}}.dump(),
                  "application/json");
    token_ = Token();
    auto forbidden = Call("GET", "/api/v2/roles");
    EXPECT_EQ(forbidden->status, 403);
    EXPECT_EQ(json::parse(forbidden->body)["errorCode"], "insufficient_scope");
}

TEST_F(EmulatorTest, ChangePasswordSendsOneEmailPerAddressPerMinute) {
    Start();
    token_ = Token();
    Call("POST", "/api/v2/users", NewUser("cus_1", "a@example.com"));
    const auto body = json{{"client_id", "c"},
                           {"email", "a@example.com"},
                           {"connection", "Username-Password-Authentication"}}
                          .dump();
    auto first = client_->Post("/dbconnections/change_password", body, "application/json");
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(first->body, "We've just sent you an email to reset your password.");
    EXPECT_EQ(client_->Post("/dbconnections/change_password", body, "application/json")->status,
              429);  // [§1]
    EXPECT_EQ(Get("/__emulator/emails").size(), 1u);
}

TEST_F(EmulatorTest, InjectedFaultsAnswerWithTheStatusOrDropTheConnection) {
    Start();
    token_ = Token();
    client_->Post(
        "/__emulator/faults",
        json{{"kind", "status"}, {"status", 503}, {"rate", 1.0}, {"path_prefix", "/api/v2/roles"}}
            .dump(),
        "application/json");
    EXPECT_EQ(Call("GET", "/api/v2/roles")->status, 503);
    client_->Delete("/__emulator/faults");
    client_->Post("/__emulator/faults",
                  json{{"kind", "drop"}, {"rate", 1.0}, {"path_prefix", "/api/v2/roles"}}.dump(),
                  "application/json");
    auto dropped = Call("GET", "/api/v2/roles");
    EXPECT_FALSE(dropped && dropped->status == 200 && !dropped->body.empty() &&
                 json::accept(dropped->body))
        << "a dropped connection gives no complete answer";
    EXPECT_EQ(Get("/__emulator/stats")["faults_injected"], 2);
}

// A user deleted by an admin between its creation and its role assignment: the create answers
// 201 as usual, then the user is gone for every later call.
TEST_F(EmulatorTest, VanishAfterCreateDeletesChosenUsersOnceCreated) {
    Start();
    token_ = Token();
    auto fault = client_->Post(
        "/__emulator/faults",
        json{{"kind", "vanish_after_create"}, {"user_ids", {"auth0|cus_1"}}}.dump(),
        "application/json");
    EXPECT_EQ(fault->status, 201);
    EXPECT_EQ(client_->Post("/__emulator/faults", json{{"kind", "vanish_after_create"}}.dump(),
                            "application/json")
                  ->status,
              400)
        << "user_ids is required";
    auto created = Call("POST", "/api/v2/users", NewUser("cus_1", "cus_1@example.com"));
    EXPECT_EQ(created->status, 201);
    EXPECT_EQ(json::parse(created->body)["user_id"], "auth0|cus_1");
    CreateUsers(1);  // cus_0: not chosen, and not shadowed by the fault
    EXPECT_EQ(Call("GET", "/api/v2/users/auth0%7Ccus_1")->status, 404);
    EXPECT_EQ(Call("GET", "/api/v2/users/auth0%7Ccus_0")->status, 200);
    const auto path = "/api/v2/roles/" + RoleId() + "/users";
    EXPECT_EQ(Call("POST", path, {{"users", {"auth0|cus_0", "auth0|cus_1"}}})->status, 404);
    EXPECT_EQ(Call("POST", "/api/v2/users/auth0%7Ccus_1/roles", {{"roles", {RoleId()}}})->status,
              404);
    EXPECT_EQ(Call("POST", path, {{"users", {"auth0|cus_0"}}})->status, 200);
    EXPECT_EQ(RolesByUser(), json({{"auth0|cus_0", json::array({"ROLE_CUSTOMER"})}}));
    EXPECT_EQ(Get("/__emulator/stats")["faults_injected"], 1);
    EXPECT_EQ(Call("POST", "/api/v2/users", NewUser("cus_1", "cus_1@example.com"))->status, 201)
        << "a re-creation vanishes again while the fault lasts";
    EXPECT_EQ(Get("/__emulator/stats")["users"], 1);
}

// POST /api/v2/roles/{id}/users: "Assign users to a role" in Auth0's Management API OAS.
TEST_F(EmulatorTest, AssignsOneRoleToManyUsers) {
    Start();
    token_ = Token();
    CreateUsers(3);
    const auto path = "/api/v2/roles/" + RoleId() + "/users";
    const json batch = {{"users", {"auth0|cus_0", "auth0|cus_1", "auth0|cus_2"}}};
    auto assigned = Call("POST", path, batch);
    EXPECT_EQ(assigned->status, 200);
    EXPECT_EQ(json::parse(assigned->body), json::object());
    EXPECT_EQ(Call("POST", path, batch)->status, 200) << "assigning again is a no-op";
    const json customer = json::array({"ROLE_CUSTOMER"});
    EXPECT_EQ(
        RolesByUser(),
        json({{"auth0|cus_0", customer}, {"auth0|cus_1", customer}, {"auth0|cus_2", customer}}));
    EXPECT_EQ(Get("/__emulator/stats")["by_route"]["POST /api/v2/roles/{id}/users"], 2);
    EXPECT_EQ(Get("/__emulator/stats")["role_batch_sizes"], json({{"3", 2}}));
}

TEST_F(EmulatorTest, RoleBatchWithAMissingUserAssignsNobody) {
    Start();
    token_ = Token();
    CreateUsers(2);
    const json batch = {{"users", {"auth0|cus_0", "auth0|nobody", "auth0|cus_1"}}};
    auto missing = Call("POST", "/api/v2/roles/" + RoleId() + "/users", batch);
    EXPECT_EQ(missing->status, 404);
    EXPECT_EQ(json::parse(missing->body)["message"], "One or more of the users do not exist.");
    EXPECT_EQ(json::parse(missing->body)["statusCode"], 404);
    EXPECT_EQ(RolesByUser(),
              json({{"auth0|cus_0", json::array()}, {"auth0|cus_1", json::array()}}));
    auto no_role = Call("POST", "/api/v2/roles/rol_nope/users", {{"users", {"auth0|cus_0"}}});
    EXPECT_EQ(no_role->status, 404);
    EXPECT_EQ(json::parse(no_role->body)["message"], "Role not found.");
}

TEST_F(EmulatorTest, RoleBatchValidatesItsBody) {
    Start();
    token_ = Token();
    CreateUsers(1);
    const auto path = "/api/v2/roles/" + RoleId() + "/users";
    json too_many = json::array();
    for (int i = 0; i < 1001; ++i) too_many.push_back("auth0|cus_0");
    for (const json& body :
         {json::object(), json{{"users", json::array()}}, json{{"users", "auth0|cus_0"}},
          json{{"users", {1}}}, json{{"users", too_many}},
          json{{"users", {"auth0|cus_0"}}, {"roles", {"x"}}}, json::array()}) {
        auto r = Call("POST", path, body);
        EXPECT_EQ(r->status, 400) << body.dump().substr(0, 80);
        auto error = json::parse(r->body);
        EXPECT_EQ(error["statusCode"], 400);
        EXPECT_EQ(error["error"], "Bad Request");
        EXPECT_EQ(error["errorCode"], "invalid_body") << error.dump();
    }
    httplib::Headers headers{{"Authorization", "Bearer " + token_}};
    EXPECT_EQ(client_->Post(path.c_str(), headers, "{not json", "application/json")->status, 400);
    EXPECT_EQ(RolesByUser(), json({{"auth0|cus_0", json::array()}}));
    too_many.erase(too_many.begin() + 1000);
    EXPECT_EQ(Call("POST", path, {{"users", too_many}})->status, 200) << "1000 users is allowed";
}

TEST_F(EmulatorTest, RoleBatchSpendsOneRateLimitToken) {
    Options options;
    options.rate_limit_per_second = 0.001;  // no refill within the test
    options.rate_limit_burst = 6;
    Start(options);
    token_ = Token();
    CreateUsers(3);              // 3 tokens
    const auto role = RoleId();  // 1 token
    const json batch = {{"users", {"auth0|cus_0", "auth0|cus_1", "auth0|cus_2"}}};
    auto first = Call("POST", "/api/v2/roles/" + role + "/users", batch);
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(first->get_header_value("x-ratelimit-remaining"), "1") << "one token for 3 users";
    EXPECT_EQ(Call("POST", "/api/v2/roles/" + role + "/users", batch)->status, 200);
    auto limited = Call("POST", "/api/v2/roles/" + role + "/users", batch);
    EXPECT_EQ(limited->status, 429);
    EXPECT_EQ(Get("/__emulator/stats")["management_requests"], 7);
    EXPECT_EQ(Get("/__emulator/stats")["rate_limited"], 1);
}

TEST_F(EmulatorTest, RoleBatchHonoursFaultsAndScopes) {
    Start();
    token_ = Token();
    CreateUsers(1);
    const auto path = "/api/v2/roles/" + RoleId() + "/users";
    client_->Post(
        "/__emulator/faults",
        json{{"kind", "status"}, {"status", 503}, {"path_prefix", "/api/v2/roles/"}}.dump(),
        "application/json");
    EXPECT_EQ(Call("POST", path, {{"users", {"auth0|cus_0"}}})->status, 503);
    client_->Delete("/__emulator/faults");
    client_->Post("/__emulator/scopes", json{{"scopes", {"read:roles"}}}.dump(),
                  "application/json");
    auto forbidden = Call("POST", path, {{"users", {"auth0|cus_0"}}}, Token());
    EXPECT_EQ(forbidden->status, 403);
    EXPECT_EQ(json::parse(forbidden->body)["errorCode"], "insufficient_scope");
    EXPECT_EQ(Get("/__emulator/stats")["by_route"]["POST /api/v2/roles/{id}/users"], 2);
}

}  // namespace
}  // namespace auth0_emulator
