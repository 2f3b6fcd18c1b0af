// SPDX-License-Identifier: Apache-2.0
// Plan: what differs between the declared tenant and the tenant as read, and nothing else.
#include <gtest/gtest.h>

#include "kyc_bridge/tenant/tenant.hpp"

namespace kyc_bridge::tenant {
namespace {

const std::string kApi = "https://mockbank/api";

Tenant Declared() {
    Tenant t;
    t.resource_servers.push_back(
        {"",
         kApi,
         "MockBank API",
         true,
         "access_token_authz",
         std::nullopt,
         std::nullopt,
         std::nullopt,
         {{"fdx:accounts.read", "Read accounts"}, {"fdx:transactions.read", "Read transactions"}}});
    t.roles.push_back({"",
                       "ROLE_CUSTOMER",
                       "Customer",
                       {{kApi, "fdx:accounts.read"}, {kApi, "fdx:transactions.read"}}});
    t.roles.push_back({"", "ROLE_OPS", "Ops", {{kApi, "fdx:accounts.read"}}});
    t.client_grants.push_back(
        {"", "kyc-client", "https://t/api/v2/", {"create:users", "read:users"}});
    return t;
}

/// The tenant as Auth0 would answer after an apply of Declared(): ids and defaults filled in.
Tenant Applied() {
    Tenant t = Declared();
    t.resource_servers[0].id = "rs_1";
    t.resource_servers[0].token_lifetime = 86400;  // an Auth0 default the file does not declare
    t.resource_servers[0].allow_offline_access = false;
    t.roles[0].id = "rol_1";
    t.roles[1].id = "rol_2";
    t.client_grants[0].id = "cgr_1";
    return t;
}

PlanOptions Options(bool prune = false) { return {prune, {"kyc-client"}}; }

const FieldChange* Field(const Change& c, const std::string& name) {
    for (const auto& f : c.fields)
        if (f.field == name) return &f;
    return nullptr;
}

TEST(TenantPlan, EmptyTenantCreatesEverythingDeclared) {
    const auto changes = Plan(Declared(), {}, Options());
    ASSERT_EQ(changes.size(), 4u);
    for (const auto& c : changes) EXPECT_EQ(c.action, Action::kCreate) << c.key;
    EXPECT_EQ(changes[0].kind, Kind::kResourceServer);
    EXPECT_EQ(changes[0].body["identifier"], kApi);
    EXPECT_EQ(changes[0].body["token_dialect"], "access_token_authz");
    EXPECT_EQ(changes[0].body["scopes"].size(), 2u);
    EXPECT_EQ(changes[1].key, "ROLE_CUSTOMER");
    EXPECT_EQ(changes[1].permissions_added.size(), 2u);
    EXPECT_EQ(changes[3].kind, Kind::kClientGrant);
    EXPECT_EQ(changes[3].body["client_id"], "kyc-client");
    EXPECT_EQ(changes[3].body["scope"], nlohmann::json({"create:users", "read:users"}));
}

TEST(TenantPlan, MatchingTenantPlansNothing) {
    EXPECT_TRUE(Plan(Declared(), Applied(), Options()).empty());
    EXPECT_TRUE(Plan(Declared(), Applied(), Options(true)).empty());
}

TEST(TenantPlan, UndeclaredFieldsAreNotCompared) {
    auto current = Applied();
    current.resource_servers[0].token_lifetime = 3600;
    EXPECT_TRUE(Plan(Declared(), current, Options()).empty());
}

TEST(TenantPlan, ChangedPermissionsPlanExactlyThatChange) {
    auto desired = Declared();
    desired.roles[0].permissions.erase({kApi, "fdx:transactions.read"});
    const auto changes = Plan(desired, Applied(), Options());
    ASSERT_EQ(changes.size(), 1u);
    const auto& c = changes[0];
    EXPECT_EQ(c.action, Action::kUpdate);
    EXPECT_EQ(c.key, "ROLE_CUSTOMER");
    EXPECT_EQ(c.id, "rol_1");
    EXPECT_TRUE(c.body.is_null());  // the description is unchanged: no PATCH
    EXPECT_TRUE(c.permissions_added.empty());
    EXPECT_EQ(c.permissions_removed, (std::set<Permission>{{kApi, "fdx:transactions.read"}}));
    ASSERT_NE(Field(c, "permissions"), nullptr);
    EXPECT_EQ(Field(c, "permissions")->removed.size(), 1u);
}

TEST(TenantPlan, FieldDiffShowsOldAndNew) {
    auto current = Applied();
    current.resource_servers[0].enforce_policies = false;
    current.resource_servers[0].token_dialect = "access_token";
    current.roles[1].description = "old";
    const auto changes = Plan(Declared(), current, Options());
    ASSERT_EQ(changes.size(), 2u);
    const auto* dialect = Field(changes[0], "token_dialect");
    ASSERT_NE(dialect, nullptr);
    EXPECT_EQ(dialect->before, "access_token");
    EXPECT_EQ(dialect->after, "access_token_authz");
    EXPECT_EQ(changes[0].body, nlohmann::json({{"enforce_policies", true},
                                               {"token_dialect", "access_token_authz"}}));
    EXPECT_EQ(changes[1].body, nlohmann::json({{"description", "Ops"}}));
    EXPECT_NE(RenderText(changes[0]).find("\"access_token\" → \"access_token_authz\""),
              std::string::npos);
}

TEST(TenantPlan, ScopeChangesReplaceTheWholeList) {
    auto current = Applied();
    current.resource_servers[0].scopes = {{"fdx:accounts.read", "old text"}, {"fdx:old", ""}};
    const auto changes = Plan(Declared(), current, Options());
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].body["scopes"].size(), 2u);
    const auto* scopes = Field(changes[0], "scopes");
    ASSERT_NE(scopes, nullptr);
    EXPECT_EQ(scopes->added, nlohmann::json({"fdx:transactions.read"}));
    EXPECT_EQ(scopes->removed, nlohmann::json({"fdx:old"}));
    EXPECT_NE(Field(changes[0], "scopes[fdx:accounts.read].description"), nullptr);
}

TEST(TenantPlan, GrantScopeDiffIsExact) {
    auto current = Applied();
    current.client_grants[0].scope = {"read:users", "delete:users"};
    const auto changes = Plan(Declared(), current, Options());
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].action, Action::kUpdate);
    EXPECT_EQ(changes[0].id, "cgr_1");
    EXPECT_EQ(changes[0].body, nlohmann::json({{"scope", {"create:users", "read:users"}}}));
    EXPECT_EQ(changes[0].fields[0].added, nlohmann::json({"create:users"}));
    EXPECT_EQ(changes[0].fields[0].removed, nlohmann::json({"delete:users"}));
}

Tenant WithExtras() {
    auto current = Applied();
    current.resource_servers.push_back({"rs_2", "https://old/api", "Old"});
    ResourceServer system{"rs_0", "https://t/api/v2/", "Auth0 Management API"};
    system.is_system = true;
    current.resource_servers.push_back(system);
    current.roles.push_back({"rol_3", "ROLE_OLD", "", {}});
    current.client_grants.push_back({"cgr_2", "kyc-client", "https://old/api", {"x"}});
    current.client_grants.push_back({"cgr_3", "someone-else", "https://t/api/v2/", {"read:users"}});
    return current;
}

TEST(TenantPlan, NothingIsDeletedWithoutPrune) {
    EXPECT_TRUE(Plan(Declared(), WithExtras(), Options()).empty());
}

TEST(TenantPlan, PruneDeletesUndeclaredButNotSystemOrOtherClients) {
    const auto changes = Plan(Declared(), WithExtras(), Options(true));
    ASSERT_EQ(changes.size(), 3u);
    for (const auto& c : changes) EXPECT_EQ(c.action, Action::kDelete);
    EXPECT_EQ(changes[0].kind, Kind::kClientGrant);
    EXPECT_EQ(changes[0].id, "cgr_2");
    EXPECT_EQ(changes[1].kind, Kind::kRole);
    EXPECT_EQ(changes[1].id, "rol_3");
    EXPECT_EQ(changes[2].kind, Kind::kResourceServer);
    EXPECT_EQ(changes[2].id, "rs_2");
}

TEST(TenantPlan, RenderJsonNamesActionKindAndKey) {
    const auto changes = Plan(Declared(), {}, Options());
    const auto j = RenderJson(changes[1]);
    EXPECT_EQ(j["action"], "create");
    EXPECT_EQ(j["kind"], "role");
    EXPECT_EQ(j["key"], "ROLE_CUSTOMER");
    EXPECT_EQ(j["permissions_added"].size(), 2u);
}

}  // namespace
}  // namespace kyc_bridge::tenant
