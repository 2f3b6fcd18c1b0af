// SPDX-License-Identifier: Apache-2.0
// Role batches: formed when the pacer grants the request (or within the wait), capped, and split
// into per-user calls on a 404.
#include "kyc_bridge/provision/role_batcher.hpp"

#include <gtest/gtest.h>

#include "fakes.hpp"

namespace kyc_bridge::provision {
namespace {

using namespace std::chrono_literals;

/// Batch requests wait for Grant(), as requests wait for the pacer's budget.
class HeldGrants : public testing::FakeAuth0 {
public:
    void AssignUsersToRole(const std::string& role,
                           std::function<std::vector<std::string>()> take_users,
                           core::Callback<void> done) override {
        pending.push_back([this, role, take_users, done] {
            done(DoAssignUsersToRole(role, take_users()));
        });
    }
    /// Grants the oldest waiting request; false if none waits.
    bool Grant() {
        if (pending.empty()) return false;
        auto next = std::move(pending.front());
        pending.erase(pending.begin());
        next();
        return true;
    }
    std::vector<std::function<void()>> pending;
};

class RoleBatcherTest : public ::testing::Test {
protected:
    void AddUser(const std::string& id) {
        tenant_.users[id] = {id, id + "@example.com", "Jane", std::nullopt,
                             nlohmann::json::object(), "Username-Password-Authentication"};
    }
    void Assign(RoleBatcher& batcher, const std::string& id) {
        batcher.Assign(id, [this, id](core::Status s) { results_[id] = s; });
    }

    HeldGrants tenant_;
    core::ManualTimers timers_;
    core::FakeClock clock_;
    std::map<std::string, core::Status> results_;
};

TEST_F(RoleBatcherTest, EveryUserWaitingAtTheGrantGoesIntoOneCall) {
    RoleBatcher batcher(tenant_, {"rol_1"}, {100, 0ms}, timers_, clock_);
    for (int i = 0; i < 5; ++i) {
        AddUser("auth0|u" + std::to_string(i));
        Assign(batcher, "auth0|u" + std::to_string(i));
    }
    ASSERT_EQ(tenant_.pending.size(), 1u) << "one request waits for the budget, not five";
    ASSERT_TRUE(tenant_.Grant());
    ASSERT_EQ(tenant_.batches.size(), 1u);
    EXPECT_EQ(tenant_.batches[0].size(), 5u);
    for (const auto& [id, status] : results_) EXPECT_TRUE(status.ok()) << id;
    EXPECT_EQ(results_.size(), 5u);
    EXPECT_EQ(tenant_.roles_of["auth0|u3"], std::vector<std::string>{"rol_1"});
}

TEST_F(RoleBatcherTest, ALoneUserAddsNoWaitWhenTheBudgetAllows) {
    testing::FakeAuth0 instant;  // grants at once
    instant.users["auth0|u1"] = {"auth0|u1", "u1@example.com", "Jane", std::nullopt,
                                 nlohmann::json::object(), "c"};
    RoleBatcher batcher(instant, {"rol_1"}, {100, 0ms}, timers_, clock_);
    batcher.Assign("auth0|u1", [this](core::Status s) { results_["auth0|u1"] = s; });
    ASSERT_EQ(results_.size(), 1u) << "done without any timer";
    EXPECT_TRUE(results_["auth0|u1"].ok());
}

TEST_F(RoleBatcherTest, BatchesAreCappedAndTheRestFollow) {
    RoleBatcher batcher(tenant_, {"rol_1"}, {2, 0ms}, timers_, clock_);
    for (int i = 0; i < 5; ++i) {
        AddUser("auth0|u" + std::to_string(i));
        Assign(batcher, "auth0|u" + std::to_string(i));
    }
    ASSERT_TRUE(tenant_.Grant());
    timers_.RunDue(clock_.Now());  // the next request is queued from the timer thread
    ASSERT_TRUE(tenant_.Grant());
    timers_.RunDue(clock_.Now());
    ASSERT_TRUE(tenant_.Grant());
    timers_.RunDue(clock_.Now());
    EXPECT_FALSE(tenant_.Grant());
    ASSERT_EQ(tenant_.batches.size(), 3u);
    EXPECT_EQ(tenant_.batches[0].size(), 2u);
    EXPECT_EQ(tenant_.batches[1].size(), 2u);
    EXPECT_EQ(tenant_.batches[2].size(), 1u);
    EXPECT_EQ(results_.size(), 5u);
}

TEST_F(RoleBatcherTest, ABatchFormsWithinTheWait) {
    testing::FakeAuth0 instant;
    for (int i = 0; i < 3; ++i) {
        auto id = "auth0|u" + std::to_string(i);
        instant.users[id] = {id, id + "@example.com", "Jane", std::nullopt,
                             nlohmann::json::object(), "c"};
    }
    RoleBatcher batcher(instant, {"rol_1"}, {100, 50ms}, timers_, clock_);
    batcher.Assign("auth0|u0", [this](core::Status s) { results_["u0"] = s; });
    EXPECT_TRUE(instant.batches.empty()) << "a lone user waits for company";
    clock_.Advance(20ms);
    batcher.Assign("auth0|u1", [this](core::Status s) { results_["u1"] = s; });
    batcher.Assign("auth0|u2", [this](core::Status s) { results_["u2"] = s; });
    EXPECT_EQ(timers_.RunDue(clock_.Now()), 0);
    clock_.Advance(30ms);
    EXPECT_EQ(timers_.RunDue(clock_.Now()), 1);
    ASSERT_EQ(instant.batches.size(), 1u);
    EXPECT_EQ(instant.batches[0].size(), 3u);
    EXPECT_EQ(results_.size(), 3u);
}

TEST_F(RoleBatcherTest, NotFoundSplitsTheBatchAndThePerUserFallbackAssignsTheRest) {
    RoleBatcher batcher(tenant_, {"rol_1"}, {100, 0ms}, timers_, clock_);
    AddUser("auth0|u1");
    AddUser("auth0|u3");  // u2 was deleted between create and roles
    for (const auto* id : {"auth0|u1", "auth0|u2", "auth0|u3"}) Assign(batcher, id);
    ASSERT_TRUE(tenant_.Grant());
    ASSERT_EQ(tenant_.batches.size(), 1u);
    EXPECT_EQ(std::count(tenant_.calls.begin(), tenant_.calls.end(), "roles"), 3);
    EXPECT_TRUE(results_.at("auth0|u1").ok());
    EXPECT_TRUE(results_.at("auth0|u3").ok());
    ASSERT_FALSE(results_.at("auth0|u2").ok());
    EXPECT_EQ(results_.at("auth0|u2").error().http_status, 404);
    EXPECT_EQ(tenant_.roles_of["auth0|u1"], std::vector<std::string>{"rol_1"});
    EXPECT_EQ(tenant_.roles_of["auth0|u3"], std::vector<std::string>{"rol_1"});
    EXPECT_EQ(tenant_.roles_of.count("auth0|u2"), 0u);
    EXPECT_EQ(batcher.stats().fallbacks.load(), 1u);
}

TEST_F(RoleBatcherTest, AUserNotFoundOnItsOwnRetriesPerUserNotInTheNextBatch) {
    RoleBatcher batcher(tenant_, {"rol_1"}, {100, 0ms}, timers_, clock_);
    AddUser("auth0|u1");
    Assign(batcher, "auth0|u1");
    Assign(batcher, "auth0|gone");
    ASSERT_TRUE(tenant_.Grant());  // 404 → split → gone fails on its own call
    ASSERT_FALSE(results_.at("auth0|gone").ok());
    AddUser("auth0|u2");
    Assign(batcher, "auth0|u2");
    Assign(batcher, "auth0|gone");  // its job's retry
    ASSERT_TRUE(tenant_.Grant());
    ASSERT_EQ(tenant_.batches.size(), 2u);
    EXPECT_EQ(tenant_.batches[1], std::vector<std::string>{"auth0|u2"}) << "gone stayed out";
    EXPECT_TRUE(results_.at("auth0|u2").ok());
    EXPECT_EQ(results_.at("auth0|gone").error().http_status, 404);
    EXPECT_EQ(batcher.stats().fallbacks.load(), 1u) << "the second batch was not split";
}

TEST_F(RoleBatcherTest, AUserWithTwoRolesIsDoneWhenBothBatchesSucceeded) {
    RoleBatcher batcher(tenant_, {"rol_1", "rol_2"}, {100, 0ms}, timers_, clock_);
    AddUser("auth0|u1");
    Assign(batcher, "auth0|u1");
    ASSERT_TRUE(tenant_.Grant());
    EXPECT_TRUE(results_.empty()) << "one role of two";
    ASSERT_TRUE(tenant_.Grant());
    ASSERT_EQ(results_.size(), 1u);
    EXPECT_TRUE(results_.at("auth0|u1").ok());
    EXPECT_EQ(tenant_.roles_of["auth0|u1"], (std::vector<std::string>{"rol_1", "rol_2"}));
}

TEST_F(RoleBatcherTest, OtherFailuresFailEveryUserOfTheBatch) {
    RoleBatcher batcher(tenant_, {"rol_1"}, {100, 0ms}, timers_, clock_);
    AddUser("auth0|u1");
    AddUser("auth0|u2");
    Assign(batcher, "auth0|u1");
    Assign(batcher, "auth0|u2");
    tenant_.fail_next = core::Error{core::ErrorKind::kRateLimited, "Too Many Requests", "", 429,
                                    std::nullopt};
    ASSERT_TRUE(tenant_.Grant());
    ASSERT_EQ(results_.size(), 2u);
    EXPECT_EQ(results_.at("auth0|u1").error().kind, core::ErrorKind::kRateLimited);
    EXPECT_EQ(results_.at("auth0|u2").error().kind, core::ErrorKind::kRateLimited);
    EXPECT_EQ(std::count(tenant_.calls.begin(), tenant_.calls.end(), "roles"), 0);
}

TEST_F(RoleBatcherTest, ARequestThatFailsBeforeItsGrantFailsItsUsersAndLeavesTheQueueWorking) {
    // No token (or shutdown): the call fails before the pacer grants it, take_users never runs.
    struct NoToken : HeldGrants {
        bool refuse = true;
        void AssignUsersToRole(const std::string& role,
                               std::function<std::vector<std::string>()> take_users,
                               core::Callback<void> done) override {
            if (refuse) {
                done(core::Error::Transient("token endpoint answered 503", "token"));
                return;
            }
            HeldGrants::AssignUsersToRole(role, std::move(take_users), std::move(done));
        }
    } tenant;
    tenant.users["auth0|u1"] = {"auth0|u1", "u1@example.com", "Jane", std::nullopt,
                                nlohmann::json::object(), "c"};
    RoleBatcher batcher(tenant, {"rol_1"}, {100, 0ms}, timers_, clock_);
    batcher.Assign("auth0|u1", [this](core::Status s) { results_["first"] = s; });
    ASSERT_EQ(results_.count("first"), 1u) << "the waiting user got the error, not a hang";
    EXPECT_EQ(results_.at("first").error().code, "token");
    tenant.refuse = false;
    batcher.Assign("auth0|u1", [this](core::Status s) { results_["second"] = s; });
    ASSERT_TRUE(tenant.Grant()) << "a new request was made: the queue is not stuck";
    EXPECT_TRUE(results_.at("second").ok());
}

}  // namespace
}  // namespace kyc_bridge::provision
