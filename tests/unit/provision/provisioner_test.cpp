// SPDX-License-Identifier: Apache-2.0
// The scheduler and worker pool: one job per customer at a time and in order, and a
// configuration error that pauses everything without spending attempts, resuming through a
// single canary job.
#include "kyc_bridge/provision/provisioner.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "fakes.hpp"
#include "kyc_bridge/core/timers.hpp"

namespace kyc_bridge::provision {
namespace {

using namespace std::chrono_literals;
using testing::FakeAuth0;
using testing::FakeLedger;

/// The in-memory tenant behind one lock (workers call it concurrently), with a switch that
/// refuses creates the way a missing create:users scope does, and a concurrency probe.
class SharedAuth0 : public FakeAuth0 {
public:
    std::atomic<bool> refuse_creates{false};
    std::atomic<int> refused_creates{0};
    std::atomic<int> probes{0};
    std::atomic<int> in_flight{0};
    std::atomic<int> most_in_flight{0};
    std::map<std::string, int> running_per_customer;  ///< under mutex
    bool overlap_seen = false;                        ///< two calls for one customer at once

    // Answered 5 ms later from a timer thread, like an HTTP answer: long enough for jobs to
    // overlap.
    void CreateUser(const auth0::NewUser& u, core::Callback<auth0::User> done) override {
        Enter(u.user_id);
        timers.After(5ms, [this, u, done] {
            core::Result<auth0::User> result = core::Error::Transient("unset");
            if (refuse_creates) {
                ++refused_creates;
                result = core::Error{core::ErrorKind::kConfiguration,
                                     "Insufficient scope, expected any of: create:users",
                                     "insufficient_scope", 403, std::nullopt};
            } else {
                std::lock_guard lock(mutex);
                result = FakeAuth0::DoCreateUser(u);
            }
            Leave(u.user_id);
            done(result);
        }, clock);
    }
    core::Status DoUpdateUser(const std::string& id, const nlohmann::json& patch) override {
        std::lock_guard lock(mutex);
        return FakeAuth0::DoUpdateUser(id, patch);
    }
    core::Status DoAssignRoles(const std::string& id, const std::vector<std::string>& r) override {
        std::lock_guard lock(mutex);
        return FakeAuth0::DoAssignRoles(id, r);
    }
    core::Status DoSendPasswordChangeEmail(const std::string& e, const std::string& c,
                                           const std::string& id) override {
        std::lock_guard lock(mutex);
        return FakeAuth0::DoSendPasswordChangeEmail(e, c, id);
    }
    core::Result<std::optional<auth0::User>> DoGetUser(const std::string& id) override {
        std::lock_guard lock(mutex);
        return FakeAuth0::DoGetUser(id);
    }
    core::Status Probe() override {
        ++probes;  // reads roles: works even while creates are refused
        return {};
    }

    std::mutex mutex;
    core::SystemClock clock;
    core::TimerThread timers;

private:
    void Enter(const std::string& customer) {
        std::lock_guard lock(mutex);
        most_in_flight = std::max(most_in_flight.load(), ++in_flight);
        if (++running_per_customer[customer] > 1) overlap_seen = true;
    }
    void Leave(const std::string& customer) {
        std::lock_guard lock(mutex);
        --in_flight;
        --running_per_customer[customer];
    }
};

/// FakeLedger behind one lock, with DueJobs as the store answers it: each customer's oldest
/// pending job, if due and the customer is not busy.
class SharedLedger : public FakeLedger {
public:
    core::Result<std::vector<Job>> DueJobs(core::TimePoint now, std::size_t limit,
                                           const std::set<std::string>& busy) override {
        std::lock_guard lock(mutex);
        std::vector<Job> due;
        std::set<std::string> seen;
        for (const auto& [id, job] : jobs) {
            if (job.state != JobState::kPending) continue;
            if (!seen.insert(job.event.customer_id).second) continue;  // not the head
            if (busy.count(job.event.customer_id) || job.next_attempt_at > now) continue;
            if (due.size() < limit) due.push_back(job);
        }
        return due;
    }
    core::Result<std::optional<core::TimePoint>> NextDueTime() override {
        return std::optional<core::TimePoint>{};
    }
    core::Result<std::optional<CustomerAccount>> LoadAccount(const std::string& id) override {
        std::lock_guard lock(mutex);
        return FakeLedger::LoadAccount(id);
    }
    core::Status DoRecordUser(const std::string& c, const std::string& u,
                              const std::string& o) override {
        std::lock_guard lock(mutex);
        return FakeLedger::DoRecordUser(c, u, o);
    }
    core::Status DoRecordRolesAssigned(const std::string& c) override {
        std::lock_guard lock(mutex);
        return FakeLedger::DoRecordRolesAssigned(c);
    }
    core::Status DoRecordPasswordEmailSending(const std::string& c) override {
        std::lock_guard lock(mutex);
        return FakeLedger::DoRecordPasswordEmailSending(c);
    }
    core::Status DoRecordPasswordSetupSent(const std::string& c) override {
        std::lock_guard lock(mutex);
        return FakeLedger::DoRecordPasswordSetupSent(c);
    }
    core::Status DoRecordProfileApplied(std::int64_t id) override {
        std::lock_guard lock(mutex);
        return FakeLedger::DoRecordProfileApplied(id);
    }
    core::Status DoCompleteJob(std::int64_t id, const std::string& c,
                               const std::optional<OutboundEvent>& e) override {
        std::lock_guard lock(mutex);
        completed.push_back(id);
        return FakeLedger::DoCompleteJob(id, c, e);
    }
    core::Status DoRescheduleJob(std::int64_t id, int attempts, core::TimePoint at,
                                 const core::Error&) override {
        std::lock_guard lock(mutex);
        jobs[id].attempts = attempts;
        jobs[id].next_attempt_at = at;
        return {};
    }
    core::Status DoFailJob(std::int64_t id, int attempts, const core::Error& e) override {
        std::lock_guard lock(mutex);
        jobs[id].attempts = attempts;
        jobs[id].state = JobState::kFailed;
        jobs[id].last_error = e.code;
        return {};
    }

    void Add(std::int64_t id, const std::string& customer, const std::string& given_name) {
        std::lock_guard lock(mutex);
        jobs[id] = testing::TestJob(id, customer, customer + "@example.com", given_name);
    }
    std::size_t Done() {
        std::lock_guard lock(mutex);
        return completed.size();
    }

    std::mutex mutex;
    std::vector<std::int64_t> completed;
};

class ProvisionerTest : public ::testing::Test {
protected:
    ProvisionerTest() {
        runner_settings_.role_ids = {"rol_1"};
        runner_settings_.role_names = {"ROLE_CUSTOMER"};
        settings_.concurrency = 4;
        settings_.idle_poll = 20ms;
        settings_.probe_interval = 30ms;
    }
    void WaitFor(const std::function<bool()>& done) {
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
        ASSERT_TRUE(done());
    }

    SharedAuth0 auth0_;
    SharedLedger ledger_;
    core::SystemClock clock_;
    RunnerSettings runner_settings_;
    ProvisionerSettings settings_;
    RetryPolicy retry_{RetrySettings{}, 1};
};

TEST_F(ProvisionerTest, OneCustomersJobsRunOneAtATimeAndInOrder) {
    for (int i = 0; i < 12; ++i) ledger_.Add(i + 1, "cus_" + std::to_string(i % 3), "Name" + std::to_string(i));
    JobRunner runner(auth0_, ledger_, clock_, runner_settings_);
    Provisioner provisioner(auth0_, ledger_, runner, retry_, clock_, settings_);
    provisioner.Start();
    WaitFor([&] { return ledger_.Done() == 12; });
    provisioner.Stop(clock_.Now() + 1s);
    std::lock_guard lock(ledger_.mutex);
    std::map<std::string, std::vector<std::int64_t>> order;
    for (auto id : ledger_.completed) order[ledger_.jobs[id].event.customer_id].push_back(id);
    for (const auto& [customer, ids] : order) {
        EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end())) << customer;
    }
    EXPECT_FALSE(auth0_.overlap_seen);
    // The last event of each customer wins: cus_0's last job (id 10) carried "Name9".
    EXPECT_EQ(auth0_.users.at("auth0|cus_0").given_name, "Name9");
}

TEST_F(ProvisionerTest, ARefusedConfigurationPausesAllWorkAndResumesThroughOneCanary) {
    for (int i = 0; i < 8; ++i) ledger_.Add(i + 1, "cus_" + std::to_string(i), "Jane");
    auth0_.refuse_creates = true;
    JobRunner runner(auth0_, ledger_, clock_, runner_settings_);
    Provisioner provisioner(auth0_, ledger_, runner, retry_, clock_, settings_);
    provisioner.Start();
    WaitFor([&] { return provisioner.stats().quarantined.load(); });
    WaitFor([&] { return auth0_.probes >= 3; });  // lifted and relapsed a few times
    const int probes = auth0_.probes;
    const int refused = auth0_.refused_creates;
    // The first burst may hit every worker; after each lift only the canary tries.
    EXPECT_LE(refused, settings_.concurrency + probes) << refused << " refused over " << probes << " probes";
    EXPECT_EQ(ledger_.Done(), 0u);
    auth0_.refuse_creates = false;
    WaitFor([&] { return ledger_.Done() == 8; });
    provisioner.Stop(clock_.Now() + 1s);
    std::lock_guard lock(ledger_.mutex);
    for (const auto& [id, job] : ledger_.jobs) EXPECT_EQ(job.attempts, 0) << "no attempt spent, job " << id;
    EXPECT_GT(auth0_.most_in_flight.load(), 1) << "full concurrency once the canary succeeded";
}

/// Creates answer 429 `rate_limited` times, then 503 once, then work.
class BusyTenant : public SharedAuth0 {
public:
    std::atomic<int> rate_limited{11};
    std::atomic<int> unavailable{1};
    core::Result<auth0::User> DoCreateUser(const auth0::NewUser& u) override {
        if (rate_limited > 0) {
            --rate_limited;
            return core::Error{core::ErrorKind::kRateLimited, "Too Many Requests", "too_many_requests",
                               429, std::nullopt};
        }
        if (unavailable > 0) {
            --unavailable;
            return core::Error{core::ErrorKind::kTransient, "Service Unavailable", "", 503,
                               std::nullopt};
        }
        return SharedAuth0::DoCreateUser(u);
    }
    void CreateUser(const auth0::NewUser& u, core::Callback<auth0::User> done) override {
        core::Result<auth0::User> result = core::Error::Transient("unset");
        {
            std::lock_guard lock(mutex);
            result = DoCreateUser(u);
        }
        done(result);  // the job's next steps run inline: not under the lock
    }
};

TEST_F(ProvisionerTest, RateLimitedRetriesSpendNoAttempt) {
    // Eleven 429s and one 503 with retry.max_attempts = 2: only the 503 is an attempt.
    BusyTenant tenant;
    RetryPolicy retry(RetrySettings{1ms, 2ms, 2, std::chrono::seconds{3600}, 4, 1ms}, 1);
    ledger_.Add(1, "cus_1", "Jane");
    ledger_.jobs[1].created_at = clock_.Now();  // young: max_age does not end it
    JobRunner runner(tenant, ledger_, clock_, runner_settings_);
    Provisioner provisioner(tenant, ledger_, runner, retry, clock_, settings_);
    provisioner.Start();
    WaitFor([&] { return ledger_.Done() == 1; });
    provisioner.Stop(clock_.Now() + 1s);
    std::lock_guard lock(ledger_.mutex);
    EXPECT_EQ(ledger_.jobs[1].state, JobState::kDone) << ledger_.jobs[1].last_error;
    EXPECT_EQ(ledger_.jobs[1].attempts, 1);
    EXPECT_EQ(provisioner.stats().rate_limited.load(), 11u);
}

TEST_F(ProvisionerTest, ManyJobsInFlightWithoutAThreadEach) {
    settings_.concurrency = 64;
    for (int i = 0; i < 128; ++i) ledger_.Add(i + 1, "cus_" + std::to_string(i), "Jane");
    JobRunner runner(auth0_, ledger_, clock_, runner_settings_);
    Provisioner provisioner(auth0_, ledger_, runner, retry_, clock_, settings_);
    provisioner.Start();
    WaitFor([&] { return ledger_.Done() == 128; });
    provisioner.Stop(clock_.Now() + 1s);
    EXPECT_GT(auth0_.most_in_flight.load(), 32) << "creates overlap far beyond the thread count";
    EXPECT_LE(auth0_.most_in_flight.load(), 64);
    EXPECT_FALSE(auth0_.overlap_seen);
}

TEST_F(ProvisionerTest, StopEndsJobsWaitingForAnEmailSlot) {
    // Email calls that never answer hold the only slot; Stop must still return by the deadline.
    struct SilentEmails : SharedAuth0 {
        void SendPasswordChangeEmail(const std::string&, const std::string&, const std::string&,
                                     core::Callback<void> done) override {
            std::lock_guard lock(mutex);
            held.push_back(std::move(done));
        }
        void Shutdown() override {
            std::vector<core::Callback<void>> ended;
            {
                std::lock_guard lock(mutex);
                ended.swap(held);
            }
            for (auto& done : ended) done(core::Error::Transient("shutdown", "shutdown"));
        }
        std::vector<core::Callback<void>> held;
    } tenant;
    runner_settings_.max_emails_in_flight = 1;
    for (int i = 0; i < 4; ++i) ledger_.Add(i + 1, "cus_" + std::to_string(i), "Jane");
    JobRunner runner(tenant, ledger_, clock_, runner_settings_);
    Provisioner provisioner(tenant, ledger_, runner, retry_, clock_, settings_);
    provisioner.Start();
    WaitFor([&] { return runner.email_slots().waiting() == 3; });
    const auto started = std::chrono::steady_clock::now();
    provisioner.Stop(clock_.Now() + 300ms);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
    EXPECT_EQ(provisioner.stats().in_flight.load(), 0);
    EXPECT_EQ(provisioner.stats().jobs_parked.load(), 3u);
}

}  // namespace
}  // namespace kyc_bridge::provision
