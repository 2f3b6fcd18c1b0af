// SPDX-License-Identifier: Apache-2.0
// What the ops CLI reads and changes: job and rejected listings, replay, counts.
#include <array>

#include "kyc_bridge/store/store.hpp"
#include "store_impl.hpp"

namespace kyc_bridge::store {

core::Result<std::vector<JobSummary>> Store::ListJobs(const std::string& state, std::size_t limit) {
    return impl_->Run("list jobs", [&]() -> core::Result<std::vector<JobSummary>> {
        SQLite::Statement query(impl_->db,
                                "SELECT job_id, event_id, customer_id, state, attempts, "
                                "last_error_kind, last_error, created_at_ms, updated_at_ms "
                                "FROM jobs WHERE ?1 = '' OR state = ?1 "
                                "ORDER BY job_id DESC LIMIT ?2");
        query.bind(1, state);
        query.bind(2, static_cast<std::int64_t>(limit));
        std::vector<JobSummary> jobs;
        while (query.executeStep()) {
            JobSummary job;
            job.job_id = query.getColumn(0).getInt64();
            job.event_id = query.getColumn(1).getString();
            job.customer_id = query.getColumn(2).getString();
            job.state = query.getColumn(3).getString();
            job.attempts = query.getColumn(4).getInt();
            auto kind = query.getColumn(5).getString();
            auto message = query.getColumn(6).getString();
            job.last_error = kind.empty() ? message : kind + ": " + message;
            job.created_at_ms = query.getColumn(7).getInt64();
            job.updated_at_ms = query.getColumn(8).getInt64();
            jobs.push_back(std::move(job));
        }
        return jobs;
    });
}

core::Result<std::vector<RejectedSummary>> Store::ListRejected(std::size_t limit) {
    return impl_->Run("list rejected", [&]() -> core::Result<std::vector<RejectedSummary>> {
        SQLite::Statement query(impl_->db,
                                "SELECT topic, partition, offset, event_id, reason, rejected_at_ms "
                                "FROM rejected ORDER BY id DESC LIMIT ?");
        query.bind(1, static_cast<std::int64_t>(limit));
        std::vector<RejectedSummary> rows;
        while (query.executeStep()) {
            RejectedSummary row;
            row.origin.topic = query.getColumn(0).getString();
            row.origin.partition = query.getColumn(1).getInt();
            row.origin.offset = query.getColumn(2).getInt64();
            row.event_id = query.getColumn(3).getString();
            row.reason = query.getColumn(4).getString();
            row.rejected_at_ms = query.getColumn(5).getInt64();
            rows.push_back(std::move(row));
        }
        return rows;
    });
}

core::Result<bool> Store::ReplayJob(std::int64_t job_id) {
    return impl_->Run("replay job", [&]() -> core::Result<bool> {
        // last_error stays as history of why the job had failed. The replayed job is older than
        // any pending job of its customer, so it becomes the head and runs first.
        auto tx = impl_->Write();
        SQLite::Statement update(impl_->db,
                                 "UPDATE jobs SET state = 'pending', attempts = 0, conflict_attempts = 0, "
                                 "next_attempt_at_ms = ?1, updated_at_ms = ?1 "
                                 "WHERE job_id = ?2 AND state = 'failed'");
        update.bind(1, impl_->NowMs());
        update.bind(2, job_id);
        if (update.exec() == 0) return false;
        impl_->RefreshHead(impl_->CustomerOf(job_id));
        tx.commit();
        return true;
    });
}

core::Result<std::vector<std::pair<std::string, std::int64_t>>> Store::CountJobsByState() {
    using Counts = std::vector<std::pair<std::string, std::int64_t>>;
    return impl_->Run("count jobs by state", [&]() -> core::Result<Counts> {
        // Every state is listed, zero included, so a metric never disappears.
        Counts counts = {{"pending", 0}, {"done", 0}, {"failed", 0}};
        SQLite::Statement query(impl_->db, "SELECT state, count(*) FROM jobs GROUP BY state");
        while (query.executeStep()) {
            auto state = query.getColumn(0).getString();
            for (auto& [name, count] : counts) {
                if (name == state) count = query.getColumn(1).getInt64();
            }
        }
        return counts;
    });
}

}  // namespace kyc_bridge::store
