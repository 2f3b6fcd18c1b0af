// SPDX-License-Identifier: Apache-2.0
// The tenant file: the shipped one parses; defaults come from the config; mistakes name the key.
#include <gtest/gtest.h>

#include "kyc_bridge/tenant/tenant.hpp"

namespace kyc_bridge::tenant {
namespace {

const FileDefaults kDefaults{"kyc-client", "https://t.example/api/v2/"};

std::string ErrorOf(const std::string& text) {
    try {
        ParseTenantFile(text, kDefaults);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

TEST(TenantFile, ShippedFileParses) {
    const auto t = LoadTenantFile(KYC_BRIDGE_SOURCE_ROOT "/config/tenant.toml", kDefaults);
    ASSERT_EQ(t.resource_servers.size(), 1u);
    EXPECT_EQ(t.resource_servers[0].identifier, "https://mockbank/api");
    EXPECT_EQ(t.resource_servers[0].enforce_policies, true);
    EXPECT_EQ(t.resource_servers[0].token_dialect, "access_token_authz");
    ASSERT_EQ(t.roles.size(), 3u);
    EXPECT_EQ(t.roles[0].name, "ROLE_CUSTOMER");
    ASSERT_EQ(t.client_grants.size(), 1u);
    EXPECT_EQ(t.client_grants[0].client_id, "kyc-client");
    EXPECT_EQ(t.client_grants[0].audience, "https://t.example/api/v2/");
    // SECURITY.md's least-privilege list, exactly.
    EXPECT_EQ(t.client_grants[0].scope,
              (std::set<std::string>{"create:users", "read:users", "update:users", "read:roles",
                                     "create:role_members"}));
}

TEST(TenantFile, UnknownKeyIsNamed) {
    EXPECT_NE(
        ErrorOf("[[roles]]\nname = \"R\"\ncolour = \"red\"\n").find("roles[0].colour: unknown key"),
        std::string::npos);
    EXPECT_NE(ErrorOf("tenant = 1\n").find("tenant: unknown key"), std::string::npos);
}

TEST(TenantFile, MissingAndMistypedValuesAreNamed) {
    EXPECT_NE(ErrorOf("[[resource_servers]]\nname = \"x\"\n").find("identifier: is required"),
              std::string::npos);
    EXPECT_NE(ErrorOf("[[resource_servers]]\nidentifier = \"i\"\nname = \"x\"\n"
                      "enforce_policies = \"yes\"\n")
                  .find("enforce_policies: must be true or false"),
              std::string::npos);
    EXPECT_NE(ErrorOf("[[resource_servers]]\nidentifier = \"i\"\nname = \"x\"\n"
                      "token_dialect = \"jwt\"\n")
                  .find("token_dialect: must be one of"),
              std::string::npos);
}

TEST(TenantFile, PermissionMustBeAScopeOfItsDeclaredApi) {
    const auto error = ErrorOf(
        "[[resource_servers]]\nidentifier = \"https://a\"\nname = \"A\"\n"
        "[[resource_servers.scopes]]\nvalue = \"read\"\n"
        "[[roles]]\nname = \"R\"\npermissions = [{ resource_server_identifier = \"https://a\", "
        "permission_name = \"write\" }]\n");
    EXPECT_NE(error.find("permission 'write' is not a scope of https://a"), std::string::npos);
}

TEST(TenantFile, DuplicatesAreRefused) {
    EXPECT_NE(ErrorOf("[[roles]]\nname = \"R\"\n[[roles]]\nname = \"R\"\n").find("declared twice"),
              std::string::npos);
    EXPECT_NE(ErrorOf("[[client_grants]]\nscope = [\"a\", \"a\"]\n").find("twice"),
              std::string::npos);
}

TEST(TenantFile, SyntaxErrorNamesTheLine) {
    EXPECT_NE(ErrorOf("[[roles]\n").find("line 1"), std::string::npos);
}

}  // namespace
}  // namespace kyc_bridge::tenant
