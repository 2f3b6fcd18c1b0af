// SPDX-License-Identifier: Apache-2.0
// Scheduling: claim due jobs (one per customer), hand them to workers, act on the outcome.
#include "kyc_bridge/provision/provisioner.hpp"

#include "kyc_bridge/core/log_limiter.hpp"
#include "kyc_bridge/core/logging.hpp"

namespace kyc_bridge::provision {

using core::ErrorKind;

Provisioner::Provisioner(auth0::Auth0Api& api, JobLedger& ledger, JobRunner& runner,
                         RetryPolicy& retry, const core::Clock& clock,
                         ProvisionerSettings settings)
    : api_(api), ledger_(ledger), runner_(runner), retry_(retry), clock_(clock),
      settings_(settings) {}

Provisioner::~Provisioner() { Stop(clock_.Now()); }

void Provisioner::Start() { scheduler_ = std::thread([this] { SchedulerLoop(); }); }

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
        if (stopping_ && !scheduler_.joinable() && stats_.in_flight == 0) return;
        stopping_ = true;
    }
    scheduler_cv_.notify_all();
    if (scheduler_.joinable()) scheduler_.join();
    // Jobs finish the step they are in; past the deadline they park between steps, and what
    // waits for an email slot or the pacer, or an Auth0 answer, is ended.
    std::unique_lock lock(mutex_);
    while (stats_.in_flight > 0 && clock_.Now() < deadline) {
        drained_cv_.wait_for(lock, std::chrono::milliseconds{20});
    }
    park_ = true;
    if (stats_.in_flight == 0) return;
    lock.unlock();
    runner_.Close();
    api_.Shutdown();
    lock.lock();
    drained_cv_.wait(lock, [this] { return stats_.in_flight == 0; });
}

void Provisioner::SchedulerLoop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        stats_.heartbeat_ms = core::ToUnixMillis(clock_.Now());
        if (stats_.quarantined) {
            lock.unlock();
            ProbeWhileQuarantined();
            lock.lock();
            continue;
        }
        auto wait = ClaimAndStart(lock);
        if (!wake_ && !stopping_) {
            scheduler_cv_.wait_for(lock, wait, [this] { return wake_ || stopping_; });
        }
        wake_ = false;
    }
}

std::chrono::milliseconds Provisioner::ClaimAndStart(std::unique_lock<std::mutex>& lock) {
    auto log = core::Logger("provisioner");
    const auto concurrency = static_cast<std::size_t>(settings_.concurrency);
    auto free_slots = concurrency - std::min(busy_customers_.size(), concurrency);
    if (canary_) free_slots = busy_customers_.empty() ? 1 : 0;
    std::chrono::milliseconds wait = settings_.idle_poll;
    if (free_slots == 0) return wait;
    auto busy = busy_customers_;
    lock.unlock();
    auto due = ledger_.DueJobs(clock_.Now(), free_slots, busy);
    std::optional<core::TimePoint> next_due;
    if (due && due->size() < free_slots) {
        if (auto next = ledger_.NextDueTime(); next && next->has_value()) next_due = **next;
    }
    std::vector<Job> to_start;
    lock.lock();
    if (!due) {
        ++stats_.store_errors;
        core::LogLimited(*log, spdlog::level::err, "claim_failed/" + due.error().code,
                         "event=claim_failed kind={} error=\"{}\"",
                         core::ToString(due.error().kind), due.error().message);
        return wait;
    }
    for (auto& job : *due) {
        if (stopping_ || !busy_customers_.insert(job.event.customer_id).second) continue;
        ++stats_.in_flight;
        to_start.push_back(std::move(job));
    }
    if (next_due) {
        auto until =
            std::chrono::duration_cast<std::chrono::milliseconds>(*next_due - clock_.Now());
        // A past due time belongs to a busy customer's head job (it is running): wait for a
        // job's end to wake the scheduler instead of spinning on the ledger.
        if (until > std::chrono::milliseconds{0}) wait = std::min(until, settings_.idle_poll);
    }
    lock.unlock();
    // Started outside the lock: a job whose steps complete at once ends (and releases) inline.
    for (auto& job : to_start) StartJob(std::move(job));
    lock.lock();
    return wait;
}

void Provisioner::StartJob(Job job) {
    auto shared = std::make_shared<Job>(std::move(job));
    runner_.Start(*shared, park_, [this, shared](core::Result<RunEnd> result) {
        Handle(*shared, result, [this, shared] { Release(shared->event.customer_id); });
    });
}

void Provisioner::Release(const std::string& customer_id) {
    // Notified under the lock: once Stop sees in_flight 0 the provisioner may be destroyed.
    std::lock_guard lock(mutex_);
    busy_customers_.erase(customer_id);
    --stats_.in_flight;
    wake_ = true;
    scheduler_cv_.notify_one();
    drained_cv_.notify_all();
}

std::int64_t Provisioner::SinceCreated(const Job& job) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - job.created_at)
        .count();
}

void Provisioner::CountOutcome(const Job& job, const RunEnd& end) {
    if (end.outcome == "updated") {
        ++stats_.jobs_updated;
    } else if (end.outcome == "existing") {
        ++stats_.jobs_existing;
    } else {
        ++stats_.jobs_created;
    }
    if (on_job_outcome_) on_job_outcome_(job, end);
}

void Provisioner::Handle(const Job& job, const core::Result<RunEnd>& result,
                         std::function<void()> released) {
    auto log = core::Logger("provisioner");
    const auto& customer = job.event.customer_id;
    if (result) {
        EndCanary();
        if (result->kind == RunEnd::kParked) {
            ++stats_.jobs_parked;
            log->info("event=job_parked job_id={} customer_id={}", job.job_id, customer);
        } else {
            ++stats_.jobs_done;
            CountOutcome(job, *result);
            if (on_job_done_) on_job_done_();
            log->info(
                "event=job_done job_id={} event_id={} customer_id={} auth0_user_id={} "
                "outcome={} attempts={} duration_ms={}",
                job.job_id, job.event.event_id, customer, result->auth0_user_id, result->outcome,
                job.attempts + 1, SinceCreated(job));
        }
        released();
        return;
    }
    const auto& error = result.error();
    if (error.kind == ErrorKind::kConfiguration) {
        Quarantine(error);  // not the customer's fault: the job keeps its attempts
        released();
        return;
    }
    EndCanary();
    // A 429 is the tenant's budget, not a failure of this job: it spends no attempt.
    const bool rate_limited = error.kind == ErrorKind::kRateLimited;
    int attempts = rate_limited ? job.attempts : job.attempts + 1;
    // An unresolved 409 gets retry.conflict_max_attempts tries of its own, whatever failed before.
    auto decision = retry_.Decide(
        error, error.kind == ErrorKind::kConflict ? job.conflict_attempts + 1 : attempts,
        job.created_at, clock_.Now());
    auto on_recorded = [this, job_id = job.job_id, released](core::Status recorded) {
        if (!recorded) {
            // The job stays pending as it was; it is claimed again when due.
            ++stats_.store_errors;
            core::LogLimited(*core::Logger("provisioner"), spdlog::level::err,
                             "record_failed/" + recorded.error().code,
                             "event=record_failed job_id={} error=\"{}\"", job_id,
                             recorded.error().message);
        }
        released();
    };
    if (decision.retry) {
        ++stats_.attempts_failed;
        ++stats_.retries_by_kind[static_cast<std::size_t>(error.kind)];
        if (rate_limited) ++stats_.rate_limited;
        log->warn("event=job_retry job_id={} customer_id={} attempt={} kind={} code={} "
                  "retry_in_ms={} error=\"{}\"",
                  job.job_id, customer, attempts, core::ToString(error.kind), error.code,
                  std::chrono::duration_cast<std::chrono::milliseconds>(decision.next_attempt_at -
                                                                        clock_.Now())
                      .count(),
                  error.message);
        ledger_.RescheduleJob(job.job_id, attempts, decision.next_attempt_at, error, on_recorded);
    } else {
        ++stats_.jobs_failed;
        core::Error final_error = error;
        final_error.code = decision.reason;
        log->error(
            "event=job_failed job_id={} event_id={} customer_id={} outcome=failed "
            "attempts={} duration_ms={} reason={} kind={} error=\"{}\"",
            job.job_id, job.event.event_id, customer, attempts, SinceCreated(job), decision.reason,
            core::ToString(error.kind), error.message);
        ledger_.FailJob(job.job_id, attempts, final_error, on_recorded);
    }
}

void Provisioner::EndCanary() {
    std::lock_guard lock(mutex_);
    if (!canary_) return;
    canary_ = false;
    wake_ = true;  // the other slots are free again
    scheduler_cv_.notify_one();
}

namespace {

// What to look at, by the cause's code: TLS and DNS failures are fixed elsewhere than refused
// credentials.
const char* QuarantineHint(const std::string& code) {
    if (code == "tls") {
        return "check the certificate Auth0's host presents, the system CA bundle and "
               "auth0.ca_file";
    }
    if (code == "dns") return "check auth0.domain / auth0.base_url and the resolver";
    return "check the M2M client secret, its client grant and scopes";
}

}  // namespace

void Provisioner::Quarantine(const core::Error& error) {
    auto log = core::Logger("provisioner");
    bool was = stats_.quarantined.exchange(true);
    auto now = clock_.Now();
    if (!was) {
        stats_.quarantined_since_ms = core::ToUnixMillis(now);
        if (on_quarantine_change_) on_quarantine_change_(error.code + ": " + error.message);
    }
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
        log->error("event=quarantine cause=\"{}\" code={} hint=\"{}; provisioning resumes by "
                   "itself once Auth0 accepts them\"",
                   error.message, error.code, QuarantineHint(error.code));
    }
}

void Provisioner::ProbeWhileQuarantined() {
    auto log = core::Logger("provisioner");
    {
        std::unique_lock lock(mutex_);
        // In steps, each a heartbeat: a quarantine is not a stuck scheduler (/healthz).
        auto left = std::max(probe_wait_, settings_.probe_interval);
        while (left.count() > 0 && !stopping_) {
            const auto step = std::min<std::chrono::milliseconds>(left, std::chrono::seconds{5});
            scheduler_cv_.wait_for(lock, step, [this] { return stopping_; });
            left -= step;
            stats_.heartbeat_ms = core::ToUnixMillis(clock_.Now());
        }
        if (stopping_) return;
    }
    auto probe = api_.Probe();
    if (probe) {
        {
            std::lock_guard lock(mutex_);
            quarantine_lifted_at_ = clock_.Now();
            canary_ = true;
        }
        stats_.quarantine_ms_total +=
            core::ToUnixMillis(clock_.Now()) - stats_.quarantined_since_ms.exchange(0);
        stats_.quarantined = false;
        if (on_quarantine_change_) on_quarantine_change_("");
        log->info("event=quarantine_lifted");
        return;
    }
    if (probe.error().kind == ErrorKind::kConfiguration) Quarantine(probe.error());
}

}  // namespace kyc_bridge::provision
