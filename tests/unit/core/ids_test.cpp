// SPDX-License-Identifier: Apache-2.0
// Ids and passwords: deterministic where idempotency needs it, unguessable where it must be.
#include "kyc_bridge/core/ids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace kyc_bridge::core {
namespace {

TEST(Ids, DeterministicUuidIsStableAndDistinct) {
    EXPECT_EQ(DeterministicUuid("auth.user_created", "cus_1|auth0|cus_1"),
              DeterministicUuid("auth.user_created", "cus_1|auth0|cus_1"));
    EXPECT_NE(DeterministicUuid("auth.user_created", "cus_1|auth0|cus_1"),
              DeterministicUuid("auth.user_created", "cus_2|auth0|cus_2"));
}

TEST(Ids, RandomPasswordsPassStrictPoliciesAndNeverRepeat) {
    std::set<std::string> seen;
    for (int i = 0; i < 5000; ++i) {
        const auto password = RandomPassword();
        EXPECT_GE(password.size(), 32u);
        EXPECT_TRUE(std::any_of(password.begin(), password.end(), ::isupper));
        EXPECT_TRUE(std::any_of(password.begin(), password.end(), ::islower));
        EXPECT_TRUE(std::any_of(password.begin(), password.end(), ::isdigit));
        EXPECT_TRUE(std::any_of(password.begin(), password.end(), ::ispunct));
        for (std::size_t j = 2; j < password.size(); ++j) {
            ASSERT_FALSE(password[j] == password[j - 1] && password[j] == password[j - 2])
                << "Auth0's Excellent policy refuses 3 identical characters in a row";
        }
        seen.insert(password);
    }
    EXPECT_EQ(seen.size(), 5000u);
}

}  // namespace
}  // namespace kyc_bridge::core
