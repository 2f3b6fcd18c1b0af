// SPDX-License-Identifier: Apache-2.0
// Scheduling: claim due jobs (one per customer), hand them to workers, act on the outcome.
#include "kyc_bridge/provision/provisioner.hpp"

#include "kyc_bridge/core/logging.hpp"

namespace kyc_bridge::provision {

using core::ErrorKind;

Provisioner::Provisioner(auth0::Auth0Api& api, JobLedger& ledger, const JobRunner& runner,
                         RetryPolicy& retry, const core::Clock& clock,
                         ProvisionerSettings settings)
    : api_(api), ledger_(ledger), runner_(runner), retry_(retry), clock_(clock),
      settings_(settings) {}

Provisioner::~Provisioner() { Stop(clock_.Now()); }

void Provisioner::Start() {
    scheduler_ = std::thread([this] { SchedulerLoop(); });
    for (int i = 0; i < settings_.concurrency; ++i) {
        workers_.emplace_back([this] { WorkerLoop(); });
    }
}

void Provisioner::Wake() {
    {
        std::lock_guard lock(mutex_);
        wake_ = true;
    }
    scheduler_cv_.notify_one();
}

void Provisioner::Stop(core::TimePoint deadline) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && workers_.empty() && !scheduler_.joinable()) return;
        stopping_ = true;
        ready_.clear();  // queued but not started: they stay pending in the ledger
    }
    scheduler_cv_.notify_all();
    worker_cv_.notify_all();
    if (scheduler_.joinable()) scheduler_.join();
    // Workers finish the step they are in; past the deadline they park between steps.
    std::thread parker([this, deadline] {
        while (stats_.in_flight > 0 && clock_.Now() < deadline) {
            clock_.SleepFor(std::chrono::milliseconds{20});
        }
        park_ = true;
    });
    for (auto& worker : workers_) worker.join();
    park_ = true;
    parker.join();
    workers_.clear();
}

void Provisioner::SchedulerLoop() {
    auto log = core::Logger("provisioner");
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (stats_.quarantined) {
            lock.unlock();
            ProbeWhileQuarantined();
            lock.lock();
            continue;
        }
        auto free_slots = static_cast<std::size_t>(settings_.concurrency) -
                          std::min<std::size_t>(busy_customers_.size(), settings_.concurrency);
        if (canary_) free_slots = busy_customers_.empty() && ready_.empty() ? 1 : 0;
        std::chrono::milliseconds wait = settings_.idle_poll;
        if (free_slots > 0) {
            auto busy = busy_customers_;
            lock.unlock();
            auto due = ledger_.DueJobs(clock_.Now(), free_slots, busy);
            std::optional<core::TimePoint> next_due;
            if (due && due->size() < free_slots) {
                if (auto next = ledger_.NextDueTime(); next && next->has_value()) next_due = **next;
            }
            lock.lock();
            if (!due) {
                ++stats_.store_errors;
                log->error("event=claim_failed kind={} error=\"{}\"", core::ToString(due.error().kind),
                           due.error().message);
            } else {
                for (auto& job : *due) {
                    if (!busy_customers_.insert(job.event.customer_id).second) continue;
                    ready_.push_back(std::move(job));
                }
                if (!due->empty()) worker_cv_.notify_all();
                if (next_due) {
                    auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
                        *next_due - clock_.Now());
                    // A past due time belongs to a busy customer's head job (it is running):
                    // wait for a worker's Wake() instead of spinning on the ledger.
                    if (until > std::chrono::milliseconds{0}) wait = std::min(until, settings_.idle_poll);
                }
            }
        }
        if (!wake_) scheduler_cv_.wait_for(lock, wait, [this] { return wake_ || stopping_; });
        wake_ = false;
    }
}

void Provisioner::WorkerLoop() {
    std::unique_lock lock(mutex_);
    while (true) {
        worker_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
        if (stopping_) return;
        Job job = std::move(ready_.front());
        ready_.pop_front();
        ++stats_.in_flight;
        lock.unlock();
        auto result = runner_.Run(job, park_);
        Handle(job, result);
        lock.lock();
        --stats_.in_flight;
        busy_customers_.erase(job.event.customer_id);
        wake_ = true;
        scheduler_cv_.notify_one();
    }
}

void Provisioner::Handle(const Job& job, const core::Result<RunEnd>& result) {
    auto log = core::Logger("provisioner");
    const auto& customer = job.event.customer_id;
    if (result) {
        EndCanary();
        if (*result == RunEnd::kParked) {
            ++stats_.jobs_parked;
            log->info("event=job_parked job_id={} customer_id={}", job.job_id, customer);
        } else {
            ++stats_.jobs_done;
            log->info("event=job_done job_id={} customer_id={} attempts={}", job.job_id, customer,
                      job.attempts + 1);
        }
        return;
    }
    const auto& error = result.error();
    if (error.kind == ErrorKind::kConfiguration) {
        Quarantine(error);  // not the customer's fault: the job keeps its attempts
        return;
    }
    EndCanary();
    int attempts = job.attempts + 1;
    // An unresolved 409 gets retry.conflict_max_attempts tries of its own, whatever failed before.
    auto decision = retry_.Decide(
        error, error.kind == ErrorKind::kConflict ? job.conflict_attempts + 1 : attempts,
        job.created_at, clock_.Now());
    core::Status recorded;
    if (decision.retry) {
        ++stats_.attempts_failed;
        recorded = ledger_.RescheduleJob(job.job_id, attempts, decision.next_attempt_at, error);
        log->warn("event=job_retry job_id={} customer_id={} attempt={} kind={} code={} "
                  "retry_in_ms={} error=\"{}\"",
                  job.job_id, customer, attempts, core::ToString(error.kind), error.code,
                  std::chrono::duration_cast<std::chrono::milliseconds>(decision.next_attempt_at -
                                                                        clock_.Now())
                      .count(),
                  error.message);
    } else {
        ++stats_.jobs_failed;
        core::Error final_error = error;
        final_error.code = decision.reason;
        recorded = ledger_.FailJob(job.job_id, attempts, final_error);
        log->error("event=job_failed job_id={} customer_id={} attempts={} reason={} kind={} "
                   "error=\"{}\"",
                   job.job_id, customer, attempts, decision.reason, core::ToString(error.kind),
                   error.message);
    }
    if (!recorded) {
        // The job stays pending as it was; it is claimed again when due.
        ++stats_.store_errors;
        log->error("event=record_failed job_id={} error=\"{}\"", job.job_id, recorded.error().message);
    }
}

void Provisioner::EndCanary() {
    std::lock_guard lock(mutex_);
    if (!canary_) return;
    canary_ = false;
    wake_ = true;  // the other slots are free again
    scheduler_cv_.notify_one();
}

void Provisioner::Quarantine(const core::Error& error) {
    auto log = core::Logger("provisioner");
    bool was = stats_.quarantined.exchange(true);
    auto now = clock_.Now();
    std::lock_guard lock(mutex_);
    if (!was) {
        const bool relapse = quarantine_lifted_at_ != core::TimePoint{} &&
                             now - quarantine_lifted_at_ < std::chrono::seconds{30};
        probe_wait_ = relapse ? std::min<std::chrono::milliseconds>(
                                    std::max(probe_wait_, settings_.probe_interval) * 2,
                                    std::chrono::seconds{60})
                              : settings_.probe_interval;
    }
    if (!was || now - last_quarantine_log_ >= settings_.quarantine_log_interval) {
        last_quarantine_log_ = now;
        log->error("event=quarantine cause=\"{}\" code={} hint=\"check the M2M client secret, its "
                   "client grant and scopes; provisioning resumes by itself once Auth0 accepts them\"",
                   error.message, error.code);
    }
}

void Provisioner::ProbeWhileQuarantined() {
    auto log = core::Logger("provisioner");
    {
        std::unique_lock lock(mutex_);
        scheduler_cv_.wait_for(lock, std::max(probe_wait_, settings_.probe_interval),
                               [this] { return stopping_; });
        if (stopping_) return;
    }
    auto probe = api_.Probe();
    if (probe) {
        {
            std::lock_guard lock(mutex_);
            quarantine_lifted_at_ = clock_.Now();
            canary_ = true;
        }
        stats_.quarantined = false;
        log->info("event=quarantine_lifted");
        return;
    }
    if (probe.error().kind == ErrorKind::kConfiguration) Quarantine(probe.error());
}

}  // namespace kyc_bridge::provision
