// SPDX-License-Identifier: Apache-2.0
// The job state machine: call budget, the 409 paths, and resuming from every step.
#include "kyc_bridge/provision/job_runner.hpp"

#include <gtest/gtest.h>

#include "fakes.hpp"

namespace kyc_bridge::provision {
namespace {

using testing::FakeAuth0;
using testing::FakeLedger;

class JobRunnerTest : public ::testing::Test {
protected:
    JobRunnerTest() { settings_.role_ids = {"rol_1"}; settings_.role_names = {"ROLE_CUSTOMER"}; }

    Job MakeJob(std::int64_t id, const std::string& customer, const std::string& email) {
        return ledger_.jobs[id] = testing::TestJob(id, customer, email);
    }

    core::Result<RunEnd> Run(std::int64_t job_id) {
        JobRunner runner(auth0_, ledger_, clock_, settings_);
        return runner.Run(ledger_.jobs.at(job_id), stop_);
    }

    FakeAuth0 auth0_;
    FakeLedger ledger_;
    core::FakeClock clock_;
    RunnerSettings settings_;
    std::atomic<bool> stop_{false};
};

TEST_F(JobRunnerTest, NewCustomerCostsCreateRolesAndOneEmail) {
    MakeJob(1, "cus_1", "jane@example.com");
    ASSERT_TRUE(Run(1).ok());
    EXPECT_EQ(auth0_.calls, (std::vector<std::string>{"create", "roles", "email"}));
    EXPECT_FALSE(auth0_.last_verify_email);
    ASSERT_EQ(ledger_.outbox.size(), 1u);
    auto payload = nlohmann::json::parse(ledger_.outbox[0].payload);
    EXPECT_EQ(payload["outcome"], "created");
    EXPECT_EQ(payload["auth0_user_id"], "auth0|cus_1");
    EXPECT_EQ(payload["source_event_id"], "evt-1");
    EXPECT_EQ(ledger_.outbox[0].key, "cus_1");
    auto& user = auth0_.users.at("auth0|cus_1");
    EXPECT_EQ(user.app_metadata["customer_id"], "cus_1");
    EXPECT_EQ(user.app_metadata[kMarkerKey], kMarkerValue);
    EXPECT_EQ(user.app_metadata["kyc_status"], "VERIFIED");
    EXPECT_EQ(auth0_.roles_of["auth0|cus_1"], std::vector<std::string>{"rol_1"});
}

TEST_F(JobRunnerTest, VerificationEmailModeRidesOnTheCreateCall) {
    settings_.password_setup = PasswordSetup::kVerificationEmail;
    MakeJob(1, "cus_1", "jane@example.com");
    ASSERT_TRUE(Run(1).ok());
    EXPECT_EQ(auth0_.calls, (std::vector<std::string>{"create", "roles"}));
    EXPECT_TRUE(auth0_.last_verify_email);
}

TEST_F(JobRunnerTest, ExistingUserWithOurIdIsUpdatedAndGetsNoEmail) {
    auth0_.users["auth0|cus_1"] = {"auth0|cus_1", "jane@example.com", "Old", std::nullopt,
                                   nlohmann::json::object(), settings_.connection};
    MakeJob(1, "cus_1", "jane@example.com");
    ASSERT_TRUE(Run(1).ok());
    EXPECT_EQ(auth0_.calls, (std::vector<std::string>{"create", "get", "patch", "roles"}));
    EXPECT_TRUE(auth0_.emails_sent.empty());
    EXPECT_EQ(auth0_.users["auth0|cus_1"].given_name, "Jane");
    EXPECT_EQ(nlohmann::json::parse(ledger_.outbox.at(0).payload)["outcome"], "existing");
}

TEST_F(JobRunnerTest, UserWithTheEmailButAnotherIdIsAdopted) {
    auth0_.users["auth0|legacy_7"] = {"auth0|legacy_7", "jane@example.com", "Jane", std::nullopt,
                                      nlohmann::json::object(), settings_.connection};
    MakeJob(1, "cus_1", "jane@example.com");
    ASSERT_TRUE(Run(1).ok());
    EXPECT_EQ(auth0_.calls,
              (std::vector<std::string>{"create", "get", "by_email", "patch", "roles"}));
    EXPECT_EQ(auth0_.users["auth0|legacy_7"].app_metadata["customer_id"], "cus_1");
    EXPECT_FALSE(auth0_.users["auth0|legacy_7"].app_metadata.contains(kMarkerKey));
    auto payload = nlohmann::json::parse(ledger_.outbox.at(0).payload);
    EXPECT_EQ(payload["auth0_user_id"], "auth0|legacy_7");
    EXPECT_EQ(payload["outcome"], "existing");
    EXPECT_EQ(ledger_.accounts["cus_1"].auth0_user_id, "auth0|legacy_7");
    EXPECT_TRUE(auth0_.emails_sent.empty());
}

TEST_F(JobRunnerTest, EmailOfAnotherCustomersUserIsAPermanentFailure) {
    auth0_.users["auth0|cus_9"] = {"auth0|cus_9", "jane@example.com", "Jane", std::nullopt,
                                   {{"customer_id", "cus_9"}}, settings_.connection};
    MakeJob(1, "cus_1", "jane@example.com");
    auto result = Run(1);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, core::ErrorKind::kPermanent);
    EXPECT_EQ(result.error().code, "email_owned_by_other_customer");
    // Issue #9: the other customer's identifiers never appear in this job's error text.
    EXPECT_EQ(result.error().message.find("cus_9"), std::string::npos) << result.error().message;
    EXPECT_EQ(result.error().message.find("auth0|"), std::string::npos) << result.error().message;
    EXPECT_EQ(result.error().message.find("jane@example.com"), std::string::npos);
    EXPECT_TRUE(ledger_.outbox.empty());
}

TEST_F(JobRunnerTest, HalfCreatedUserIsAConflictNeverASecondUser) {
    auth0_.ghost_emails = {"jane@example.com"};
    MakeJob(1, "cus_1", "jane@example.com");
    auto result = Run(1);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, core::ErrorKind::kConflict);
    EXPECT_TRUE(auth0_.users.empty());
}

TEST_F(JobRunnerTest, LaterEventUpdatesTheProfileAndPublishesNothingNew) {
    MakeJob(1, "cus_1", "jane@example.com");
    ASSERT_TRUE(Run(1).ok());
    auth0_.calls.clear();
    auto second = MakeJob(2, "cus_1", "jane@example.com");
    ledger_.jobs[2].event.family_name = "Doe";
    ASSERT_TRUE(Run(2).ok());
    EXPECT_EQ(auth0_.calls, std::vector<std::string>{"patch"});
    EXPECT_EQ(auth0_.users["auth0|cus_1"].family_name, "Doe");
    EXPECT_EQ(ledger_.outbox.size(), 1u);
    EXPECT_EQ(auth0_.emails_sent.size(), 1u);
}

TEST_F(JobRunnerTest, FailedAuth0CallIsReturnedAndNothingAfterItRuns) {
    MakeJob(1, "cus_1", "jane@example.com");
    auth0_.fail_next = core::Error::Transient("POST /api/v2/users: 503");
    auto result = Run(1);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, core::ErrorKind::kTransient);
    EXPECT_EQ(auth0_.calls, std::vector<std::string>{"create"});
    ASSERT_TRUE(Run(1).ok());
    EXPECT_EQ(auth0_.users.size(), 1u);
}

TEST_F(JobRunnerTest, StopBetweenStepsParksWithoutHalfRecording) {
    MakeJob(1, "cus_1", "jane@example.com");
    stop_ = true;
    auto result = Run(1);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(*result, RunEnd::kParked);
    EXPECT_EQ(auth0_.calls, std::vector<std::string>{"create"});
    EXPECT_EQ(ledger_.accounts["cus_1"].auth0_user_id, "auth0|cus_1");
    stop_ = false;
    ASSERT_TRUE(Run(1).ok());
    EXPECT_EQ(auth0_.calls, (std::vector<std::string>{"create", "roles", "email"}));
}

// A crash after each Auth0 call and before its record: the restart repeats at most that one
// step, never creates a second user, sends exactly one email and publishes exactly once.
class ResumeTest : public JobRunnerTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ResumeTest, ResumesAfterACrashAtEveryStep) {
    MakeJob(1, "cus_1", "jane@example.com");
    ledger_.crash_on = GetParam();
    ASSERT_FALSE(Run(1).ok());
    ASSERT_TRUE(Run(1).ok()) << "second run after crash at " << GetParam();
    EXPECT_EQ(auth0_.users.size(), 1u);
    EXPECT_EQ(auth0_.emails_sent.size(), 1u + (std::string(GetParam()) == "password" ? 1u : 0u));
    EXPECT_EQ(ledger_.outbox.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(ledger_.outbox[0].payload)["outcome"], "created");
    EXPECT_TRUE(ledger_.accounts["cus_1"].roles_assigned);
    EXPECT_TRUE(ledger_.accounts["cus_1"].password_setup_sent);
    EXPECT_EQ(ledger_.jobs[1].state, JobState::kDone);
}

INSTANTIATE_TEST_SUITE_P(EveryStep, ResumeTest,
                         ::testing::Values("user", "profile", "roles", "password", "complete"));

TEST_F(JobRunnerTest, CrashAfterCreateContinuesAsCreatedThroughTheMarker) {
    MakeJob(1, "cus_1", "jane@example.com");
    ledger_.crash_on = "user";
    ASSERT_FALSE(Run(1).ok());
    auth0_.calls.clear();
    ASSERT_TRUE(Run(1).ok());
    EXPECT_EQ(auth0_.calls, (std::vector<std::string>{"create", "get", "roles", "email"}));
}

}  // namespace
}  // namespace kyc_bridge::provision
