// SPDX-License-Identifier: Apache-2.0
// The password email's two-phase record: resuming from `sending` and `sent`, a failed record that
// never repeats the email, an ambiguous call, and the bound on calls in flight.
#include <gtest/gtest.h>

#include <thread>

#include "fakes.hpp"
#include "kyc_bridge/provision/job_runner.hpp"

namespace kyc_bridge::provision {
namespace {

using testing::FakeAuth0;
using testing::FakeLedger;

class EmailTest : public ::testing::Test {
protected:
    EmailTest() {
        settings_.role_ids = {"rol_1"};
        settings_.role_names = {"ROLE_CUSTOMER"};
    }
    Job MakeJob(std::int64_t id, const std::string& customer) {
        return ledger_.jobs[id] = testing::TestJob(id, customer, customer + "@example.com");
    }
    /// A customer whose user and roles are recorded, as after a crash in the email step.
    void Provisioned(const std::string& customer, bool sending, bool sent) {
        auth0_.users["auth0|" + customer] = {"auth0|" + customer, customer + "@example.com",
                                             "Jane", std::nullopt, nlohmann::json::object(),
                                             settings_.connection};
        auto& account = ledger_.accounts[customer];
        account.customer_id = customer;
        account.auth0_user_id = "auth0|" + customer;
        account.outcome = "created";
        account.roles_assigned = true;
        account.password_email_sending = sending;
        account.password_setup_sent = sent;
    }

    FakeAuth0 auth0_;
    FakeLedger ledger_;
    core::FakeClock clock_;
    RunnerSettings settings_;
    std::atomic<bool> stop_{false};
};

TEST_F(EmailTest, ResumesFromSendingByRepeatingTheEmailOnceAndCountingIt) {
    auto job = MakeJob(1, "cus_1");
    job.profile_applied = true;
    Provisioned("cus_1", /*sending=*/true, /*sent=*/false);
    JobRunner runner(auth0_, ledger_, clock_, settings_);
    ASSERT_TRUE(runner.Run(job, stop_).ok());
    EXPECT_EQ(auth0_.calls, std::vector<std::string>{"email"});
    EXPECT_EQ(runner.stats().password_emails_uncertain.load(), 1u);
    EXPECT_TRUE(ledger_.accounts["cus_1"].password_setup_sent);
    EXPECT_EQ(ledger_.outbox.size(), 1u);
}

TEST_F(EmailTest, ResumesFromSentWithoutAnotherEmail) {
    auto job = MakeJob(1, "cus_1");
    job.profile_applied = true;
    Provisioned("cus_1", /*sending=*/true, /*sent=*/true);
    JobRunner runner(auth0_, ledger_, clock_, settings_);
    ASSERT_TRUE(runner.Run(job, stop_).ok());
    EXPECT_TRUE(auth0_.emails_sent.empty());
    EXPECT_EQ(runner.stats().password_emails_uncertain.load(), 0u);
    EXPECT_EQ(ledger_.outbox.size(), 1u);
}

TEST_F(EmailTest, SendingIsRecordedBeforeTheCall) {
    MakeJob(1, "cus_1");
    ledger_.crash_on = "sending";
    JobRunner runner(auth0_, ledger_, clock_, settings_);
    ASSERT_FALSE(runner.Run(ledger_.jobs.at(1), stop_).ok());
    EXPECT_TRUE(auth0_.emails_sent.empty()) << "no email without its `sending` record";
}

TEST_F(EmailTest, StoreFailureAfterTheEmailRetriesTheRecordNeverTheEmail) {
    MakeJob(1, "cus_1");
    ledger_.crash_on = "password";  // the `sent` record fails once; the process lives on
    JobRunner runner(auth0_, ledger_, clock_, settings_);
    ASSERT_FALSE(runner.Run(ledger_.jobs.at(1), stop_).ok());
    ASSERT_TRUE(runner.Run(ledger_.jobs.at(1), stop_).ok());
    EXPECT_EQ(auth0_.emails_sent.size(), 1u);
    EXPECT_TRUE(ledger_.accounts["cus_1"].password_setup_sent);
    EXPECT_EQ(runner.stats().password_emails_uncertain.load(), 0u);
}

TEST_F(EmailTest, TimedOutCallIsTakenAsSentAndCountedUncertain) {
    MakeJob(1, "cus_1");
    // create, roles answered; the email call gets no answer in time.
    struct TimeoutEmail : FakeAuth0 {
        core::Status DoSendPasswordChangeEmail(const std::string&, const std::string&,
                                               const std::string&) override {
            calls.push_back("email");
            return core::Error::Transient("Timeout was reached", "timeout");
        }
    } tenant;
    JobRunner timing_out(tenant, ledger_, clock_, settings_);
    ASSERT_TRUE(timing_out.Run(ledger_.jobs.at(1), stop_).ok());
    EXPECT_EQ(timing_out.stats().password_emails_uncertain.load(), 1u);
    EXPECT_TRUE(ledger_.accounts["cus_1"].password_setup_sent) << "not repeated in this process";
    EXPECT_EQ(std::count(tenant.calls.begin(), tenant.calls.end(), "email"), 1);
}

TEST_F(EmailTest, RefusedCallIsRetriedWithoutCountingUncertain) {
    MakeJob(1, "cus_1");
    struct RefuseOnce : FakeAuth0 {
        bool refused = false;
        core::Status DoSendPasswordChangeEmail(const std::string& e, const std::string& c,
                                               const std::string& id) override {
            if (!refused) {
                refused = true;
                calls.push_back("email");
                return core::Error{core::ErrorKind::kTransient, "Service Unavailable", "", 503,
                                   std::nullopt};
            }
            return FakeAuth0::DoSendPasswordChangeEmail(e, c, id);
        }
    } tenant;
    JobRunner refusing(tenant, ledger_, clock_, settings_);
    ASSERT_FALSE(refusing.Run(ledger_.jobs.at(1), stop_).ok());
    ASSERT_TRUE(refusing.Run(ledger_.jobs.at(1), stop_).ok());
    EXPECT_EQ(tenant.emails_sent.size(), 1u);
    EXPECT_EQ(refusing.stats().password_emails_uncertain.load(), 0u);
}

/// Email calls answered only when the test says so.
class HeldEmails : public FakeAuth0 {
public:
    void SendPasswordChangeEmail(const std::string& email, const std::string&, const std::string&,
                                 core::Callback<void> done) override {
        std::lock_guard lock(mutex_);
        held_.emplace_back(email, std::move(done));
        most_held = std::max(most_held, held_.size());
    }
    /// Answers the oldest held call (ok); false if none is held.
    bool AnswerOne() {
        std::pair<std::string, core::Callback<void>> call;
        {
            std::lock_guard lock(mutex_);
            if (held_.empty()) return false;
            call = std::move(held_.front());
            held_.erase(held_.begin());
            emails_sent.push_back(call.first);
        }
        call.second(core::Status{});
        return true;
    }
    std::size_t held() {
        std::lock_guard lock(mutex_);
        return held_.size();
    }
    std::size_t most_held = 0;

private:
    std::mutex mutex_;
    std::vector<std::pair<std::string, core::Callback<void>>> held_;
};

TEST_F(EmailTest, AtMostMaxEmailsInFlightAndEachIsSendingWhileInFlight) {
    HeldEmails tenant;
    settings_.max_emails_in_flight = 3;
    JobRunner runner(tenant, ledger_, clock_, settings_);
    std::atomic<int> finished{0};
    for (int i = 1; i <= 10; ++i) {
        MakeJob(i, "cus_" + std::to_string(i));
        runner.Start(ledger_.jobs.at(i), stop_, [&](core::Result<RunEnd> r) {
            EXPECT_TRUE(r.ok());
            ++finished;
        });
    }
    EXPECT_EQ(tenant.held(), 3u);
    EXPECT_EQ(runner.email_slots().waiting(), 7u);
    int sending = 0;
    for (const auto& [customer, account] : ledger_.accounts) sending += account.password_email_sending;
    EXPECT_EQ(sending, 3) << "only the calls in flight are in `sending`";
    while (tenant.AnswerOne()) {
    }
    EXPECT_EQ(finished.load(), 10);
    EXPECT_EQ(tenant.most_held, 3u);
    EXPECT_EQ(tenant.emails_sent.size(), 10u);
}

TEST_F(EmailTest, JobsWaitingForASlotParkOnClose) {
    HeldEmails tenant;
    settings_.max_emails_in_flight = 1;
    JobRunner runner(tenant, ledger_, clock_, settings_);
    std::vector<core::Result<RunEnd>> ends;
    for (int i = 1; i <= 3; ++i) {
        MakeJob(i, "cus_" + std::to_string(i));
        runner.Start(ledger_.jobs.at(i), stop_, [&](core::Result<RunEnd> r) { ends.push_back(r); });
    }
    ASSERT_EQ(tenant.held(), 1u);
    runner.Close();
    ASSERT_EQ(ends.size(), 2u) << "the two waiting jobs ended at once";
    for (const auto& end : ends) {
        ASSERT_TRUE(end.ok());
        EXPECT_EQ(*end, RunEnd::kParked);
    }
    EXPECT_TRUE(tenant.AnswerOne());
    ASSERT_EQ(ends.size(), 3u);
    EXPECT_EQ(*ends[2], RunEnd::kDone);
    EXPECT_FALSE(ledger_.accounts["cus_2"].password_email_sending) << "parked before phase 1";
}

}  // namespace
}  // namespace kyc_bridge::provision
