// SPDX-License-Identifier: Apache-2.0
// The JobLedger side of Store: due jobs in per-customer order, and each recorded Auth0 step.
#include <nlohmann/json.hpp>

#include "kyc_bridge/events/kyc_verified.hpp"
#include "kyc_bridge/store/store.hpp"
#include "store_impl.hpp"

namespace kyc_bridge::store {

namespace {

std::string LastError(const std::string& kind, const std::string& message) {
    return kind.empty() ? message : kind + ": " + message;
}

core::Status NotInState(std::string_view operation, std::int64_t job_id, const char* state) {
    return core::Error::Permanent(
        "store: " + std::string(operation) + ": job " + std::to_string(job_id) + " is not " + state,
        "job_state");
}

}  // namespace

void Store::Impl::RefreshHead(const std::string& customer_id) {
    SQLite::Statement clear(db,
                            "UPDATE jobs SET is_head = 0 "
                            "WHERE state = 'pending' AND customer_id = ? AND is_head = 1");
    clear.bind(1, customer_id);
    clear.exec();
    SQLite::Statement promote(db,
                              "UPDATE jobs SET is_head = 1 WHERE job_id = (SELECT min(job_id) "
                              "FROM jobs WHERE state = 'pending' AND customer_id = ?)");
    promote.bind(1, customer_id);
    promote.exec();
}

std::string Store::Impl::CustomerOf(std::int64_t job_id) {
    SQLite::Statement query(db, "SELECT customer_id FROM jobs WHERE job_id = ?");
    query.bind(1, job_id);
    return query.executeStep() ? query.getColumn(0).getString() : std::string{};
}

void Store::Impl::FailUnparseable(std::int64_t job_id, const core::Error& error) {
    SQLite::Statement update(db,
                             "UPDATE jobs SET state = 'failed', is_head = 0, last_error_kind = ?, "
                             "last_error = ?, updated_at_ms = ? "
                             "WHERE job_id = ? AND state = 'pending'");
    update.bind(1, std::string(core::ToString(error.kind)));
    update.bind(2, "inbox payload does not parse: " + error.code + ": " + error.message);
    update.bind(3, NowMs());
    update.bind(4, job_id);
    auto tx = Write();
    if (update.exec() > 0) RefreshHead(CustomerOf(job_id));
    tx.commit();
}

void Store::Impl::TouchAccount(const std::string& customer_id, const char* columns,
                               const char* values, const char* assignments,
                               const std::vector<std::string>& texts) {
    SQLite::Statement upsert(
        db, std::string("INSERT INTO accounts (customer_id, updated_at_ms") + columns +
                ") VALUES (?1, ?2" + values +
                ") ON CONFLICT (customer_id) DO UPDATE SET updated_at_ms = ?2" + assignments);
    upsert.bind(1, customer_id);
    upsert.bind(2, NowMs());
    for (std::size_t i = 0; i < texts.size(); ++i) upsert.bind(static_cast<int>(i) + 3, texts[i]);
    upsert.exec();
}

core::Status Store::Impl::UpdatePending(std::string_view operation, std::int64_t job_id,
                                        const char* new_state, int attempts,
                                        std::int64_t next_attempt_ms, const core::Error& error) {
    auto tx = Write();
    SQLite::Statement update(db,
                             "UPDATE jobs SET state = ?1, is_head = (?1 = 'pending'), "
                             "attempts = ?, next_attempt_at_ms = ?, "
                             "last_error_kind = ?, last_error = ?, updated_at_ms = ?, "
                             "conflict_attempts = conflict_attempts + ? "
                             "WHERE job_id = ?8 AND state = 'pending'");
    update.bind(1, new_state);
    update.bind(2, attempts);
    update.bind(3, next_attempt_ms);
    update.bind(4, std::string(core::ToString(error.kind)));
    update.bind(5, error.message);
    update.bind(6, NowMs());
    update.bind(7, error.kind == core::ErrorKind::kConflict ? 1 : 0);
    update.bind(8, job_id);
    if (update.exec() == 0) return NotInState(operation, job_id, "pending");
    if (std::string_view(new_state) != "pending") RefreshHead(CustomerOf(job_id));
    tx.commit();
    return {};
}

core::Result<std::vector<provision::Job>> Store::DueJobs(
    core::TimePoint now, std::size_t limit, const std::set<std::string>& busy_customers) {
    return impl_->Run("due jobs", [&]() -> core::Result<std::vector<provision::Job>> {
        std::vector<provision::Job> jobs;
        std::vector<std::pair<std::int64_t, core::Error>> unparseable;
        {
            StatementUse query(impl_->due_jobs);
            query->bind(1, core::ToUnixMillis(now));
            query->bind(2, nlohmann::json(busy_customers).dump());
            query->bind(3, static_cast<std::int64_t>(limit));
            while (query->executeStep()) {
                auto job_id = query->getColumn(0).getInt64();
                auto event = events::ParseKycVerified(query->getColumn(1).getString());
                if (!event) {
                    unparseable.emplace_back(job_id, event.error());
                    continue;
                }
                provision::Job job;
                job.job_id = job_id;
                job.event = std::move(event.value());
                job.attempts = query->getColumn(2).getInt();
                job.created_at = core::FromUnixMillis(query->getColumn(3).getInt64());
                job.next_attempt_at = core::FromUnixMillis(query->getColumn(4).getInt64());
                job.profile_applied = query->getColumn(5).getInt() != 0;
                job.last_error =
                    LastError(query->getColumn(6).getString(), query->getColumn(7).getString());
                job.conflict_attempts = query->getColumn(8).getInt();
                jobs.push_back(std::move(job));
            }
        }
        for (const auto& [job_id, error] : unparseable) impl_->FailUnparseable(job_id, error);
        return jobs;
    });
}

core::Result<std::optional<core::TimePoint>> Store::NextDueTime() {
    return impl_->Run("next due time", [&]() -> core::Result<std::optional<core::TimePoint>> {
        // Heads only: a job queued behind its customer's head is not runnable at its own time,
        // and reporting that time would make the scheduler spin.
        SQLite::Statement query(impl_->db,
                                "SELECT next_attempt_at_ms FROM jobs INDEXED BY jobs_heads_by_due "
                                "WHERE state = 'pending' AND is_head = 1 "
                                "ORDER BY next_attempt_at_ms LIMIT 1");
        if (!query.executeStep()) return std::optional<core::TimePoint>{};
        return std::optional<core::TimePoint>{core::FromUnixMillis(query.getColumn(0).getInt64())};
    });
}

core::Result<std::optional<provision::CustomerAccount>> Store::LoadAccount(
    const std::string& customer_id) {
    using Loaded = std::optional<provision::CustomerAccount>;
    return impl_->Run("load account", [&]() -> core::Result<Loaded> {
        SQLite::Statement query(
            impl_->db,
            "SELECT auth0_user_id, outcome, roles_assigned, "
            "password_setup_sent, published FROM accounts WHERE customer_id = ?");
        query.bind(1, customer_id);
        if (!query.executeStep()) return Loaded{};
        provision::CustomerAccount account;
        account.customer_id = customer_id;
        account.auth0_user_id = query.getColumn(0).getString();
        account.outcome = query.getColumn(1).getString();
        account.roles_assigned = query.getColumn(2).getInt() != 0;
        account.password_setup_sent = query.getColumn(3).getInt() != 0;
        account.published = query.getColumn(4).getInt() != 0;
        return Loaded{std::move(account)};
    });
}

core::Status Store::RecordUser(const std::string& customer_id, const std::string& auth0_user_id,
                               const std::string& outcome) {
    return impl_->Run("record user", [&]() -> core::Status {
        impl_->TouchAccount(customer_id, ", auth0_user_id, outcome", ", ?3, ?4",
                            ", auth0_user_id = ?3, outcome = ?4", {auth0_user_id, outcome});
        return {};
    });
}

core::Status Store::RecordRolesAssigned(const std::string& customer_id) {
    return impl_->Run("record roles assigned", [&]() -> core::Status {
        impl_->TouchAccount(customer_id, ", roles_assigned", ", 1", ", roles_assigned = 1", {});
        return {};
    });
}

core::Status Store::RecordPasswordSetupSent(const std::string& customer_id) {
    return impl_->Run(
        "record password setup sent",
        [&]() -> core::Status {
            impl_->TouchAccount(customer_id, ", password_setup_sent", ", 1",
                                ", password_setup_sent = 1", {});
            return {};
        },
        /*urgent=*/true);
}

core::Status Store::RecordProfileApplied(std::int64_t job_id) {
    return impl_->Run("record profile applied", [&]() -> core::Status {
        SQLite::Statement update(impl_->db,
                                 "UPDATE jobs SET profile_applied = 1, updated_at_ms = ? "
                                 "WHERE job_id = ?");
        update.bind(1, impl_->NowMs());
        update.bind(2, job_id);
        if (update.exec() == 0) return NotInState("record profile applied", job_id, "known");
        return {};
    });
}

core::Status Store::CompleteJob(std::int64_t job_id, const std::string& customer_id,
                                const std::optional<provision::OutboundEvent>& event) {
    return impl_->Run("complete job", [&]() -> core::Status {
        auto now = impl_->NowMs();
        auto tx = impl_->Write();
        SQLite::Statement update(impl_->db,
                                 "UPDATE jobs SET state = 'done', is_head = 0, updated_at_ms = ? "
                                 "WHERE job_id = ? AND state IN ('pending', 'done')");
        update.bind(1, now);
        update.bind(2, job_id);
        if (update.exec() == 0) return NotInState("complete job", job_id, "pending");
        impl_->RefreshHead(impl_->CustomerOf(job_id));
        if (event) {
            impl_->InsertOutbox(*event, now);
            impl_->TouchAccount(customer_id, ", published", ", 1", ", published = 1", {});
        }
        tx.commit();
        return {};
    });
}

core::Status Store::RescheduleJob(std::int64_t job_id, int attempts,
                                  core::TimePoint next_attempt_at, const core::Error& error) {
    return impl_->Run("reschedule job", [&]() -> core::Status {
        return impl_->UpdatePending("reschedule job", job_id, "pending", attempts,
                                    core::ToUnixMillis(next_attempt_at), error);
    });
}

core::Status Store::FailJob(std::int64_t job_id, int attempts, const core::Error& error) {
    return impl_->Run("fail job", [&]() -> core::Status {
        return impl_->UpdatePending("fail job", job_id, "failed", attempts, impl_->NowMs(), error);
    });
}

}  // namespace kyc_bridge::store
