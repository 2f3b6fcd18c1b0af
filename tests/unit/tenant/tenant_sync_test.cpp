// SPDX-License-Identifier: Apache-2.0
// ReadTenant and Apply against a scripted ManagementApi: the calls, their order and bodies.
#include <gtest/gtest.h>

#include <deque>

#include "kyc_bridge/tenant/tenant.hpp"

namespace kyc_bridge::tenant {
namespace {

using nlohmann::json;

/// Records every call; answers from a queue of scripted answers, else null (a 204).
class FakeApi final : public ManagementApi {
public:
    core::Result<json> Call(const std::string& method, const std::string&, const std::string& path,
                            const std::optional<json>& body) override {
        calls.push_back(method + " " + path);
        bodies.push_back(body.value_or(json()));
        if (answers.empty()) return json(nullptr);
        auto answer = std::move(answers.front());
        answers.pop_front();
        return answer;
    }
    std::vector<std::string> calls;
    std::vector<json> bodies;
    std::deque<core::Result<json>> answers;
};

const std::string kApi = "https://mockbank/api";

TEST(TenantApply, OrdersRemovalsCreatesThenDeletes) {
    Change remove_perm{Action::kUpdate, Kind::kRole, "ROLE_A", "rol_a"};
    remove_perm.permissions_removed = {{kApi, "old"}};
    Change create_role{Action::kCreate, Kind::kRole, "ROLE_B", ""};
    create_role.body = {{"name", "ROLE_B"}, {"description", ""}};
    create_role.permissions_added = {{kApi, "new"}};
    Change update_api{Action::kUpdate, Kind::kResourceServer, kApi, "rs_1"};
    update_api.body = {{"scopes", json::array()}};
    Change delete_api{Action::kDelete, Kind::kResourceServer, "https://old", "rs_2"};
    Change delete_grant{Action::kDelete, Kind::kClientGrant, "c → a", "cgr_1"};

    FakeApi api;
    api.answers = {json(nullptr), json(nullptr), json({{"id", "rol_b"}})};
    std::vector<std::string> done;
    auto status = Apply(api, {remove_perm, create_role, update_api, delete_api, delete_grant},
                        [&](const Change& c) { done.push_back(c.key); });
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(api.calls, (std::vector<std::string>{
                             "DELETE /api/v2/roles/rol_a/permissions",
                             "PATCH /api/v2/resource-servers/rs_1",
                             "POST /api/v2/roles",
                             "POST /api/v2/roles/rol_b/permissions",
                             "DELETE /api/v2/client-grants/cgr_1",
                             "DELETE /api/v2/resource-servers/rs_2",
                         }));
    EXPECT_EQ(api.bodies[3]["permissions"][0]["permission_name"], "new");
    EXPECT_EQ(done.size(), 5u);
}

TEST(TenantApply, StopsAtTheFirstErrorNamingTheChange) {
    Change create{Action::kCreate, Kind::kClientGrant, "c → a", ""};
    create.body = {{"client_id", "c"}};
    FakeApi api;
    api.answers = {core::Error::Permanent("Resource server not found")};
    auto status = Apply(api, {create, create}, [](const Change&) {});
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().message, "create client_grant c → a: Resource server not found");
    EXPECT_EQ(api.calls.size(), 1u);
}

TEST(TenantRead, PagesUntilAShortPage) {
    FakeApi api;
    json full = json::array();
    for (int i = 0; i < 100; ++i)
        full.push_back(
            {{"id", "rs_" + std::to_string(i)}, {"identifier", "i" + std::to_string(i)}});
    api.answers = {full, json::array({{{"id", "rs_x"}, {"identifier", "x"}, {"is_system", true}}}),
                   json::array({{{"id", "rol_1"}, {"name", "R"}, {"description", "d"}}}),
                   json::array({{{"resource_server_identifier", kApi}, {"permission_name", "p"}}}),
                   json({{"client_grants", json::array({{{"id", "cgr_1"},
                                                         {"client_id", "c"},
                                                         {"audience", "a"},
                                                         {"scope", {"read:users"}}}})}})};
    auto tenant = ReadTenant(api);
    ASSERT_TRUE(tenant.ok());
    EXPECT_EQ(tenant->resource_servers.size(), 101u);
    EXPECT_TRUE(tenant->resource_servers.back().is_system);
    ASSERT_EQ(tenant->roles.size(), 1u);
    EXPECT_EQ(tenant->roles[0].permissions, (std::set<Permission>{{kApi, "p"}}));
    ASSERT_EQ(tenant->client_grants.size(), 1u);
    EXPECT_EQ(tenant->client_grants[0].scope, std::set<std::string>{"read:users"});
    EXPECT_EQ(api.calls[1], "GET /api/v2/resource-servers?per_page=100&page=1");
}

}  // namespace
}  // namespace kyc_bridge::tenant
