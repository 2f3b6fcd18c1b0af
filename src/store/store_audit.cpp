// SPDX-License-Identifier: Apache-2.0
// Operations on the store: failed jobs and their attempts, bulk replay, the audit trail, daemon
// state.
#include "kyc_bridge/events/kyc_verified.hpp"
#include "kyc_bridge/store/store.hpp"
#include "store_impl.hpp"

namespace kyc_bridge::store {

// Columns 0–10 of list_jobs, list_failed and job_detail.
JobSummary JobSummaryFrom(SQLite::Statement& row) {
    JobSummary job;
    job.job_id = row.getColumn(0).getInt64();
    job.event_id = row.getColumn(1).getString();
    job.customer_id = row.getColumn(2).getString();
    job.state = row.getColumn(3).getString();
    job.attempts = row.getColumn(4).getInt();
    job.last_error_kind = row.getColumn(5).getString();
    job.last_error_message = row.getColumn(6).getString();
    job.last_error = job.last_error_kind.empty()
                         ? job.last_error_message
                         : job.last_error_kind + ": " + job.last_error_message;
    job.created_at_ms = row.getColumn(7).getInt64();
    job.updated_at_ms = row.getColumn(8).getInt64();
    job.kind = row.getColumn(9).getString();
    job.outcome = row.getColumn(10).getString();
    return job;
}

void Store::Impl::InsertAudit(const AuditContext& audit, std::optional<std::int64_t> job_id,
                              const std::string& event_ref) {
    StatementUse insert(w.insert_audit);
    insert->bind(1, NowMs());
    insert->bind(2, audit.action);
    if (job_id) insert->bind(3, *job_id);  // unbound stays NULL
    insert->bind(4, event_ref);
    insert->bind(5, audit.reason);
    insert->bind(6, audit.os_user);
    insert->bind(7, audit.host);
    insert->exec();
}

core::Result<std::vector<JobSummary>> Store::ListFailedJobs(const FailedFilter& filter) {
    return impl_->Read("list failed jobs", [&]() -> core::Result<std::vector<JobSummary>> {
        StatementUse query(impl_->r.list_failed);
        query->bind(1, filter.since_ms);
        query->bind(2, filter.error_class);
        query->bind(3, filter.customer_id);
        query->bind(4, static_cast<std::int64_t>(filter.limit));
        std::vector<JobSummary> jobs;
        while (query->executeStep()) jobs.push_back(JobSummaryFrom(*query));
        return jobs;
    });
}

core::Result<std::optional<JobDetail>> Store::LoadJobDetail(std::int64_t job_id) {
    auto detail = impl_->Read("load job", [&]() -> core::Result<std::optional<JobDetail>> {
        StatementUse query(impl_->r.job_detail);
        query->bind(1, job_id);
        if (!query->executeStep()) return std::optional<JobDetail>{};
        JobDetail d;
        d.job = JobSummaryFrom(*query);
        d.conflict_attempts = query->getColumn(11).getInt();
        d.profile_applied = query->getColumn(12).getInt() != 0;
        d.next_attempt_at_ms = query->getColumn(13).getInt64();
        StatementUse attempts(impl_->r.job_attempts);
        attempts->bind(1, job_id);
        while (attempts->executeStep()) {
            d.attempts.push_back(
                {attempts->getColumn(0).getInt(), attempts->getColumn(1).getString(),
                 attempts->getColumn(2).getString(), attempts->getColumn(3).getString(),
                 attempts->getColumn(4).getInt64()});
        }
        return std::optional<JobDetail>{std::move(d)};
    });
    if (!detail || !*detail) return detail;
    auto account = LoadAccount((*detail)->job.customer_id);
    if (!account) return account.error();
    (*detail)->account = std::move(*account);
    return detail;
}

core::Result<std::vector<std::int64_t>> Store::ReplayJobs(const std::vector<std::int64_t>& job_ids,
                                                          std::chrono::microseconds spacing,
                                                          const AuditContext& audit) {
    std::vector<std::int64_t> replayed;
    auto written = impl_->WriteAndWait("replay jobs", [&]() -> core::Status {
        replayed.clear();
        const auto now = impl_->NowMs();
        for (auto job_id : job_ids) {
            // last_error stays as history; the attempts table keeps every earlier error.
            StatementUse update(impl_->w.replay_job);
            const auto offset_us = static_cast<std::int64_t>(replayed.size()) * spacing.count();
            update->bind(1, now + offset_us / 1000);
            update->bind(2, job_id);
            update->bind(3, now);
            if (update->exec() == 0) continue;  // not failed (any more): nothing to do
            impl_->RefreshHead(impl_->CustomerOf(job_id));
            impl_->InsertAudit(audit, job_id, {});
            replayed.push_back(job_id);
        }
        return {};
    });
    if (!written) return written.error();
    return replayed;
}

core::Result<bool> Store::IngestReplayed(const AcceptedEvent& accepted, std::int64_t rejected_id,
                                         const AuditContext& audit) {
    bool created = false;
    auto written = impl_->WriteAndWait("ingest replayed", [&]() -> core::Status {
        const auto now = impl_->NowMs();
        const auto result = impl_->InsertInbox(accepted, now);
        created = result == Impl::InboxResult::kNew;
        std::optional<std::int64_t> job_id;
        if (created) job_id = impl_->write_db.getLastInsertRowid();
        // The inbox holds the event now (or held it already): the rejected copy of its
        // personal fields goes. A conflicting one stays for an operator to look at.
        if (result != Impl::InboxResult::kConflict) {
            StatementUse erase(impl_->w.erase_replayed_rejected);
            erase->bind(1, rejected_id);
            erase->bind(2, now);
            erase->exec();
        }
        impl_->InsertAudit(audit, job_id, "rejected:" + std::to_string(rejected_id));
        return {};
    });
    if (!written) return written.error();
    return created;
}

core::Result<std::optional<RejectedRow>> Store::LoadRejected(std::int64_t id) {
    return impl_->Read("load rejected", [&]() -> core::Result<std::optional<RejectedRow>> {
        StatementUse query(impl_->r.load_rejected);
        query->bind(1, id);
        if (!query->executeStep()) return std::optional<RejectedRow>{};
        RejectedRow row;
        row.summary.origin = {query->getColumn(0).getString(), query->getColumn(1).getInt(),
                              query->getColumn(2).getInt64()};
        row.summary.event_id = query->getColumn(3).getString();
        row.summary.reason = query->getColumn(4).getString();
        row.summary.rejected_at_ms = query->getColumn(5).getInt64();
        row.summary.id = query->getColumn(6).getInt64();
        row.payload = query->getColumn(7).getString();
        row.truncated = row.payload.size() >= kMaxRejectedPayload;
        return std::optional<RejectedRow>{std::move(row)};
    });
}

core::Result<std::vector<AuditRow>> Store::ListAudit(std::int64_t since_ms, std::size_t limit) {
    return impl_->Read("list audit", [&]() -> core::Result<std::vector<AuditRow>> {
        StatementUse query(impl_->r.list_audit);
        query->bind(1, since_ms);
        query->bind(2, static_cast<std::int64_t>(limit));
        std::vector<AuditRow> rows;
        while (query->executeStep()) {
            AuditRow row;
            row.id = query->getColumn(0).getInt64();
            row.at_ms = query->getColumn(1).getInt64();
            row.action = query->getColumn(2).getString();
            if (!query->getColumn(3).isNull()) row.job_id = query->getColumn(3).getInt64();
            row.event_ref = query->getColumn(4).getString();
            row.reason = query->getColumn(5).getString();
            row.os_user = query->getColumn(6).getString();
            row.host = query->getColumn(7).getString();
            rows.push_back(std::move(row));
        }
        return rows;
    });
}

core::Result<std::vector<LastErrorOfKind>> Store::LastErrorsByKind() {
    return impl_->Read("last errors", [&]() -> core::Result<std::vector<LastErrorOfKind>> {
        StatementUse query(impl_->r.last_errors);
        std::vector<LastErrorOfKind> rows;
        while (query->executeStep()) {
            rows.push_back({query->getColumn(0).getString(), query->getColumn(1).getString(),
                            query->getColumn(2).getInt64(), query->getColumn(3).getInt64()});
        }
        return rows;
    });
}

void Store::SetDaemonState(const std::string& key, const std::string& value,
                           core::Callback<void> done) {
    impl_->Write(
        "set daemon state",
        [impl = impl_.get(), key, value]() -> core::Status {
            StatementUse upsert(impl->w.set_daemon_state);
            upsert->bind(1, key);
            upsert->bind(2, value);
            upsert->bind(3, impl->NowMs());
            upsert->exec();
            return {};
        },
        std::move(done));
}

core::Status Store::SetDaemonState(const std::string& key, const std::string& value) {
    return impl_->WriteAndWait("set daemon state", [&]() -> core::Status {
        StatementUse upsert(impl_->w.set_daemon_state);
        upsert->bind(1, key);
        upsert->bind(2, value);
        upsert->bind(3, impl_->NowMs());
        upsert->exec();
        return {};
    });
}

core::Result<std::optional<DaemonStateValue>> Store::GetDaemonState(const std::string& key) {
    return impl_->Read("get daemon state", [&]() -> core::Result<std::optional<DaemonStateValue>> {
        StatementUse query(impl_->r.get_daemon_state);
        query->bind(1, key);
        if (!query->executeStep()) return std::optional<DaemonStateValue>{};
        return std::optional<DaemonStateValue>{
            DaemonStateValue{query->getColumn(0).getString(), query->getColumn(1).getInt64()}};
    });
}

// --- personal data --------------------------------------------------------------------------

void Store::ErasePersonalData(std::int64_t done_before_ms, std::size_t limit,
                              core::Callback<std::int64_t> done) {
    auto erased = std::make_shared<std::int64_t>(0);
    impl_->Write(
        "erase personal data",
        [impl = impl_.get(), done_before_ms, limit, erased]() -> core::Status {
            StatementUse erase(impl->w.erase_done);
            erase->bind(1, done_before_ms);
            erase->bind(2, impl->NowMs());
            erase->bind(3, static_cast<std::int64_t>(limit));
            *erased = erase->exec();
            return {};
        },
        [impl = impl_.get(), erased, done = std::move(done)](core::Status status) mutable {
            if (!status) return done(status.error());
            impl->stats.personal_data_erased += static_cast<std::uint64_t>(*erased);
            done(*erased);
        });
}

core::Result<PurgeSummary> Store::Purge(std::int64_t older_than_ms, bool dry_run,
                                        const AuditContext& audit) {
    PurgeSummary summary;
    if (dry_run) {
        return impl_->Read("count purgeable", [&]() -> core::Result<PurgeSummary> {
            StatementUse rejected(impl_->r.count_purgeable_rejected);
            rejected->bind(1, older_than_ms);
            rejected->executeStep();
            summary.rejected = rejected->getColumn(0).getInt64();
            StatementUse failed(impl_->r.count_purgeable_failed);
            failed->bind(1, older_than_ms);
            failed->executeStep();
            summary.failed_jobs = failed->getColumn(0).getInt64();
            return summary;
        });
    }
    auto written = impl_->WriteAndWait("purge", [&]() -> core::Status {
        const auto now = impl_->NowMs();
        StatementUse rejected(impl_->w.purge_rejected);
        rejected->bind(1, older_than_ms);
        rejected->bind(2, now);
        summary.rejected = rejected->exec();
        StatementUse failed(impl_->w.purge_failed);
        failed->bind(1, older_than_ms);
        failed->bind(2, now);
        summary.failed_jobs = failed->exec();
        AuditContext row = audit;
        row.reason += (row.reason.empty() ? "" : "; ") + std::string("erased ") +
                      std::to_string(summary.rejected) + " rejected, " +
                      std::to_string(summary.failed_jobs) + " failed jobs";
        impl_->InsertAudit(row, std::nullopt, {});
        return {};
    });
    if (!written) return written.error();
    return summary;
}

}  // namespace kyc_bridge::store
