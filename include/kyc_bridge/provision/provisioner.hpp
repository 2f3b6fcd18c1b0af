// SPDX-License-Identifier: Apache-2.0
// Claims due jobs in batches and keeps up to `concurrency` of them in flight; retries, fails or
// quarantines by error kind.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "kyc_bridge/auth0/auth0_api.hpp"
#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/provision/job_ledger.hpp"
#include "kyc_bridge/provision/job_runner.hpp"
#include "kyc_bridge/provision/retry_policy.hpp"

namespace kyc_bridge::provision {

/// Plain counters the metrics layer renders.
struct ProvisionStats {
    std::atomic<std::uint64_t> jobs_done{0};
    std::atomic<std::uint64_t> jobs_failed{0};
    std::atomic<std::uint64_t> attempts_failed{0};  ///< attempts that will be retried
    std::atomic<std::uint64_t> rate_limited{0};     ///< … of which 429s (no attempt spent)
    std::atomic<std::uint64_t> jobs_parked{0};
    std::atomic<std::uint64_t> store_errors{0};
    std::atomic<bool> quarantined{false};
    std::atomic<int> in_flight{0};
    /// Attempts that ended in an error and will be retried, by core::ErrorKind (its index).
    std::array<std::atomic<std::uint64_t>, 6> retries_by_kind{};
    std::atomic<std::int64_t> quarantined_since_ms{0};  ///< UNIX ms; 0 while not quarantined
    std::atomic<std::int64_t> quarantine_ms_total{0};   ///< of quarantines that ended
    std::atomic<std::int64_t> heartbeat_ms{0};  ///< UNIX ms of the scheduler loop's last turn
    /// Jobs done by RunEnd::outcome: made the user, adopted one, or a later event's update.
    std::atomic<std::uint64_t> jobs_created{0};
    std::atomic<std::uint64_t> jobs_existing{0};
    std::atomic<std::uint64_t> jobs_updated{0};
};

struct ProvisionerSettings {
    int concurrency = 64;
    std::chrono::milliseconds idle_poll{250};       ///< re-check the ledger at least this often
    std::chrono::milliseconds probe_interval{2000};  ///< quarantine: how often to probe Auth0
    std::chrono::seconds quarantine_log_interval{60};
};

/// One scheduler thread claims due jobs in batches (one ledger query for all free slots) and
/// starts them on the runner; up to `concurrency` jobs are in flight with no thread each. Jobs of
/// one customer never run concurrently. A configuration error (credentials refused, scope
/// missing) pauses all work without spending attempts until Auth0::Probe succeeds; a 429 spends
/// no attempt either.
class Provisioner {
public:
    Provisioner(auth0::Auth0Api& api, JobLedger& ledger, JobRunner& runner,
                RetryPolicy& retry, const core::Clock& clock, ProvisionerSettings settings);
    ~Provisioner();
    Provisioner(const Provisioner&) = delete;
    Provisioner& operator=(const Provisioner&) = delete;

    /// `hook` runs (on any thread, briefly) after each job's completion is durable: the relay
    /// publishes its outbox row at once. Call before Start.
    void OnJobDone(std::function<void()> hook) { on_job_done_ = std::move(hook); }
    /// `hook` is told each job done and how (for the latency histogram), like OnJobDone.
    void OnJobOutcome(std::function<void(const Job&, const RunEnd&)> hook) {
        on_job_outcome_ = std::move(hook);
    }
    /// `hook` is told when a quarantine starts (its cause) and lifts (empty), on the scheduler's
    /// or a job's thread, briefly: the ops CLI's `status` shows it. Call before Start.
    void OnQuarantineChange(std::function<void(const std::string& cause)> hook) {
        on_quarantine_change_ = std::move(hook);
    }
    void Start();
    /// New jobs may be due: look now rather than at the next poll.
    void Wake();
    /// Stops claiming jobs; running jobs finish their current step and park if `deadline`
    /// passes (jobs waiting for an email slot or the pacer park then too, and Auth0 calls still
    /// in flight are ended). Returns when no job is in flight. Idempotent.
    void Stop(core::TimePoint deadline);

    const ProvisionStats& stats() const { return stats_; }

private:
    void SchedulerLoop();
    /// Claims up to the free slots' worth of due jobs and starts them (lock held on entry/exit).
    std::chrono::milliseconds ClaimAndStart(std::unique_lock<std::mutex>& lock);
    void StartJob(Job job);
    /// Acts on a run's end; `released` runs once its record (if any) is durable or failed.
    void Handle(const Job& job, const core::Result<RunEnd>& result, std::function<void()> released);
    /// Milliseconds from the event's durable arrival to now: the job's duration in its log line.
    std::int64_t SinceCreated(const Job& job) const;
    void Release(const std::string& customer_id);
    void CountOutcome(const Job& job, const RunEnd& end);
    void Quarantine(const core::Error& error);
    void EndCanary();
    void ProbeWhileQuarantined();

    auth0::Auth0Api& api_;
    JobLedger& ledger_;
    JobRunner& runner_;
    RetryPolicy& retry_;
    const core::Clock& clock_;
    ProvisionerSettings settings_;
    ProvisionStats stats_;

    std::mutex mutex_;
    std::condition_variable scheduler_cv_;
    std::condition_variable drained_cv_;
    std::set<std::string> busy_customers_;  ///< running, or their outcome being recorded
    bool wake_ = false;
    bool stopping_ = false;
    std::atomic<bool> park_{false};
    core::TimePoint last_quarantine_log_{};
    /// The probe only reads roles: when a job hits the same refusal right after a lift (a
    /// missing write scope, say), the wait before the next probe doubles, up to a minute.
    core::TimePoint quarantine_lifted_at_{};
    /// After a lift, one job runs alone until it ends other than with a configuration error:
    /// the probe only proves the read, and a still-missing grant should cost one call, not one
    /// per worker.
    bool canary_ = false;
    std::chrono::milliseconds probe_wait_{0};

    std::function<void()> on_job_done_;
    std::function<void(const Job&, const RunEnd&)> on_job_outcome_;
    std::function<void(const std::string&)> on_quarantine_change_;
    std::thread scheduler_;
};

}  // namespace kyc_bridge::provision
