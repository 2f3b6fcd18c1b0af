// SPDX-License-Identifier: Apache-2.0
// What the ops CLI reads and changes: job and rejected listings, replay, counts.
#include "kyc_bridge/store/store.hpp"
#include "store_impl.hpp"

namespace kyc_bridge::store {

core::Result<std::vector<JobSummary>> Store::ListJobs(const std::string& state, std::size_t limit) {
    return impl_->Read("list jobs", [&]() -> core::Result<std::vector<JobSummary>> {
        StatementUse query(impl_->r.list_jobs);
        query->bind(1, state);
        query->bind(2, static_cast<std::int64_t>(limit));
        std::vector<JobSummary> jobs;
        while (query->executeStep()) jobs.push_back(JobSummaryFrom(*query));
        return jobs;
    });
}

core::Result<std::vector<RejectedSummary>> Store::ListRejected(std::size_t limit) {
    return impl_->Read("list rejected", [&]() -> core::Result<std::vector<RejectedSummary>> {
        StatementUse query(impl_->r.list_rejected);
        query->bind(1, static_cast<std::int64_t>(limit));
        std::vector<RejectedSummary> rows;
        while (query->executeStep()) {
            RejectedSummary row;
            row.origin.topic = query->getColumn(0).getString();
            row.origin.partition = query->getColumn(1).getInt();
            row.origin.offset = query->getColumn(2).getInt64();
            row.event_id = query->getColumn(3).getString();
            row.reason = query->getColumn(4).getString();
            row.rejected_at_ms = query->getColumn(5).getInt64();
            row.id = query->getColumn(6).getInt64();
            rows.push_back(std::move(row));
        }
        return rows;
    });
}

core::Result<bool> Store::ReplayJob(std::int64_t job_id) {
    bool replayed = false;
    auto written = impl_->WriteAndWait("replay job", [&]() -> core::Status {
        // last_error stays as history of why the job had failed. The replayed job is older than
        // any pending job of its customer, so it becomes the head and runs first.
        StatementUse update(impl_->w.replay_job);
        update->bind(1, impl_->NowMs());
        update->bind(2, job_id);
        update->bind(3, impl_->NowMs());
        replayed = update->exec() > 0;
        if (replayed) impl_->RefreshHead(impl_->CustomerOf(job_id));
        return {};
    });
    if (!written) return written.error();
    return replayed;
}

core::Result<std::vector<std::pair<std::string, std::int64_t>>> Store::CountJobsByState() {
    using Counts = std::vector<std::pair<std::string, std::int64_t>>;
    return impl_->Read("count jobs by state", [&]() -> core::Result<Counts> {
        // Every state is listed, zero included, so a metric never disappears.
        Counts counts = {{"pending", 0}, {"done", 0}, {"failed", 0}};
        StatementUse query(impl_->r.count_by_state);
        while (query->executeStep()) {
            auto state = query->getColumn(0).getString();
            for (auto& [name, count] : counts) {
                if (name == state) count = query->getColumn(1).getInt64();
            }
        }
        return counts;
    });
}

namespace {

core::Result<std::optional<std::int64_t>> MinColumn(SQLite::Statement& statement) {
    StatementUse query(statement);
    if (!query->executeStep() || query->getColumn(0).isNull()) {
        return std::optional<std::int64_t>{};
    }
    return std::optional<std::int64_t>{query->getColumn(0).getInt64()};
}

}  // namespace

core::Result<std::optional<std::int64_t>> Store::OldestPendingCreatedAtMs() {
    return impl_->Read("oldest pending job", [&] { return MinColumn(impl_->r.oldest_pending); });
}

core::Result<std::optional<std::int64_t>> Store::OldestUnsentOutboxCreatedAtMs() {
    return impl_->Read("oldest unsent outbox row", [&] { return MinColumn(impl_->r.oldest_unsent); });
}

}  // namespace kyc_bridge::store
