// SPDX-License-Identifier: Apache-2.0
// The JobLedger side of Store: due jobs in per-customer order, and each recorded Auth0 step.
#include <nlohmann/json.hpp>

#include "kyc_bridge/events/kyc_revoked.hpp"
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

provision::Job JobFrom(SQLite::Statement& row, events::KycVerified event) {
    provision::Job job;
    job.job_id = row.getColumn(0).getInt64();
    job.event = std::move(event);
    job.attempts = row.getColumn(2).getInt();
    job.created_at = core::FromUnixMillis(row.getColumn(3).getInt64());
    job.next_attempt_at = core::FromUnixMillis(row.getColumn(4).getInt64());
    job.profile_applied = row.getColumn(5).getInt() != 0;
    job.last_error = LastError(row.getColumn(6).getString(), row.getColumn(7).getString());
    job.conflict_attempts = row.getColumn(8).getInt();
    return job;
}

}  // namespace

void Store::Impl::RefreshHead(const std::string& customer_id) {
    StatementUse clear(w.clear_head);
    clear->bind(1, customer_id);
    clear->exec();
    StatementUse promote(w.promote_head);
    promote->bind(1, customer_id);
    promote->exec();
}

std::string Store::Impl::EventOf(std::int64_t job_id) {
    StatementUse query(w.event_of);
    query->bind(1, job_id);
    return query->executeStep() ? query->getColumn(0).getString() : std::string{};
}

std::string Store::Impl::CustomerOf(std::int64_t job_id) {
    StatementUse query(w.customer_of);
    query->bind(1, job_id);
    return query->executeStep() ? query->getColumn(0).getString() : std::string{};
}

void Store::Impl::UpsertAccount(SQLite::Statement& upsert, const std::string& customer_id) {
    StatementUse use(upsert);
    use->bind(1, customer_id);
    use->bind(2, NowMs());
    use->exec();
}

void Store::Impl::FailUnparseable(std::int64_t job_id, const core::Error& error) {
    StatementUse update(w.fail_unparseable);
    update->bind(1, std::string(core::ToString(error.kind)));
    update->bind(2, "inbox payload does not parse: " + error.code + ": " + error.message);
    update->bind(3, NowMs());
    update->bind(4, job_id);
    if (update->exec() > 0) RefreshHead(CustomerOf(job_id));
}

core::Status Store::Impl::UpdatePending(std::string_view operation, std::int64_t job_id,
                                        const char* new_state, int attempts,
                                        std::int64_t next_attempt_ms, const core::Error& error) {
    StatementUse update(w.update_pending);
    update->bind(1, new_state);
    update->bind(2, attempts);
    update->bind(3, next_attempt_ms);
    update->bind(4, std::string(core::ToString(error.kind)));
    update->bind(5, error.message);
    update->bind(6, NowMs());
    update->bind(7, error.kind == core::ErrorKind::kConflict ? 1 : 0);
    update->bind(8, job_id);
    if (update->exec() == 0) return NotInState(operation, job_id, "pending");
    RecordAttempt(job_id, attempts, error);
    if (std::string_view(new_state) != "pending") RefreshHead(CustomerOf(job_id));
    return {};
}

void Store::Impl::RecordAttempt(std::int64_t job_id, int attempt, const core::Error& error) {
    StatementUse insert(w.insert_attempt);
    insert->bind(1, job_id);
    insert->bind(2, attempt);
    insert->bind(3, std::string(core::ToString(error.kind)));
    insert->bind(4, error.code);
    insert->bind(5, error.message);
    insert->bind(6, NowMs());
    insert->exec();
}

core::Result<std::vector<provision::Job>> Store::DueJobs(
    core::TimePoint now, std::size_t limit, const std::set<std::string>& busy_customers) {
    using Unparseable = std::vector<std::pair<std::int64_t, core::Error>>;
    Unparseable unparseable;
    auto jobs = impl_->Read("due jobs", [&]() -> core::Result<std::vector<provision::Job>> {
        std::vector<provision::Job> due;
        StatementUse query(impl_->r.due_jobs);
        query->bind(1, core::ToUnixMillis(now));
        query->bind(2, nlohmann::json(busy_customers).dump());
        query->bind(3, static_cast<std::int64_t>(limit));
        while (query->executeStep()) {
            const auto payload = query->getColumn(1).getString();
            if (payload.find("\"customer.kyc_revoked\"") != std::string::npos) {
                auto revoked = events::ParseKycRevoked(payload);
                if (!revoked) {
                    unparseable.emplace_back(query->getColumn(0).getInt64(), revoked.error());
                    continue;
                }
                events::KycVerified shape;
                shape.event_id = revoked->event_id;
                shape.event_type = revoked->event_type;
                shape.occurred_at = revoked->occurred_at;
                shape.customer_id = revoked->customer_id;
                auto job = JobFrom(*query, std::move(shape));
                job.kind = provision::JobKind::kRevoke;
                job.revoke_reason = revoked->reason;
                due.push_back(std::move(job));
                continue;
            }
            auto event = events::ParseKycVerified(payload);
            if (!event) {
                unparseable.emplace_back(query->getColumn(0).getInt64(), event.error());
                continue;
            }
            due.push_back(JobFrom(*query, std::move(event.value())));
        }
        return due;
    });
    if (!jobs || unparseable.empty()) return jobs;
    // Rare (a file edited by hand or a bug): waiting for the write keeps "failed" visible to
    // the next read, and the job cannot be claimed again meanwhile.
    auto failed = impl_->WriteAndWait("fail unparseable job", [&]() -> core::Status {
        for (const auto& [job_id, error] : unparseable) impl_->FailUnparseable(job_id, error);
        return {};
    });
    if (!failed) return failed.error();
    return jobs;
}

core::Result<std::optional<core::TimePoint>> Store::NextDueTime() {
    return impl_->Read("next due time", [&]() -> core::Result<std::optional<core::TimePoint>> {
        StatementUse query(impl_->r.next_due);
        if (!query->executeStep()) return std::optional<core::TimePoint>{};
        return std::optional<core::TimePoint>{core::FromUnixMillis(query->getColumn(0).getInt64())};
    });
}

core::Result<std::optional<provision::CustomerAccount>> Store::LoadAccount(
    const std::string& customer_id) {
    using Loaded = std::optional<provision::CustomerAccount>;
    return impl_->Read("load account", [&]() -> core::Result<Loaded> {
        StatementUse query(impl_->r.load_account);
        query->bind(1, customer_id);
        if (!query->executeStep()) return Loaded{};
        provision::CustomerAccount account;
        account.customer_id = customer_id;
        account.auth0_user_id = query->getColumn(0).getString();
        account.outcome = query->getColumn(1).getString();
        account.roles_assigned = query->getColumn(2).getInt() != 0;
        account.password_email_sending = query->getColumn(3).getInt() != 0;
        account.password_setup_sent = query->getColumn(4).getInt() != 0;
        account.published = query->getColumn(5).getInt() != 0;
        account.blocked = query->getColumn(6).getInt() != 0;
        account.last_applied_ms = query->getColumn(7).getInt64();
        return Loaded{std::move(account)};
    });
}

void Store::RecordUser(std::int64_t job_id, const std::string& customer_id,
                       const std::string& auth0_user_id, const std::string& outcome,
                       core::Callback<void> done) {
    impl_->Write(
        "record user",
        [impl = impl_.get(), job_id, customer_id, auth0_user_id, outcome]() -> core::Status {
            StatementUse job(impl->w.profile_applied);
            job->bind(1, impl->NowMs());
            job->bind(2, job_id);
            if (job->exec() == 0) return NotInState("record user", job_id, "known");
            StatementUse upsert(impl->w.upsert_user);
            upsert->bind(1, customer_id);
            upsert->bind(2, impl->NowMs());
            upsert->bind(3, auth0_user_id);
            upsert->bind(4, outcome);
            upsert->exec();
            return {};
        },
        std::move(done));
}

void Store::RecordProfileApplied(std::int64_t job_id, core::Callback<void> done) {
    impl_->Write(
        "record profile applied",
        [impl = impl_.get(), job_id]() -> core::Status {
            StatementUse update(impl->w.profile_applied);
            update->bind(1, impl->NowMs());
            update->bind(2, job_id);
            if (update->exec() == 0) return NotInState("record profile applied", job_id, "known");
            return {};
        },
        std::move(done));
}

void Store::RecordBlocked(const std::string& customer_id, const std::string& auth0_user_id,
                          bool blocked, core::Callback<void> done) {
    impl_->Write(
        "record blocked",
        [impl = impl_.get(), customer_id, auth0_user_id, blocked]() -> core::Status {
            StatementUse use(impl->w.upsert_blocked);
            use->bind(1, customer_id);
            use->bind(2, impl->NowMs());
            use->bind(3, blocked ? 1 : 0);
            use->bind(4, auth0_user_id);
            use->exec();
            return {};
        },
        std::move(done));
}

void Store::RecordRolesRemoved(const std::string& customer_id, core::Callback<void> done) {
    impl_->Write(
        "record roles removed",
        [impl = impl_.get(), customer_id]() -> core::Status {
            impl->UpsertAccount(impl->w.upsert_roles_removed, customer_id);
            return {};
        },
        std::move(done));
}

void Store::RecordOutcome(std::int64_t job_id, const std::string& customer_id,
                          const std::string& outcome, std::int64_t applied_ms,
                          core::Callback<void> done) {
    impl_->Write(
        "record outcome",
        [impl = impl_.get(), job_id, customer_id, outcome, applied_ms]() -> core::Status {
            StatementUse update(impl->w.job_outcome);
            update->bind(1, outcome);
            update->bind(2, job_id);
            if (update->exec() == 0) return NotInState("record outcome", job_id, "known");
            StatementUse applied(impl->w.upsert_applied);
            applied->bind(1, customer_id);
            applied->bind(2, impl->NowMs());
            applied->bind(3, applied_ms);
            applied->exec();
            return {};
        },
        std::move(done));
}

void Store::RecordRolesAssigned(const std::string& customer_id, core::Callback<void> done) {
    impl_->Write(
        "record roles assigned",
        [impl = impl_.get(), customer_id]() -> core::Status {
            impl->UpsertAccount(impl->w.upsert_roles, customer_id);
            return {};
        },
        std::move(done));
}

void Store::RecordPasswordEmailSending(const std::string& customer_id, core::Callback<void> done) {
    impl_->Write(
        "record password email sending",
        [impl = impl_.get(), customer_id]() -> core::Status {
            impl->UpsertAccount(impl->w.upsert_email_sending, customer_id);
            return {};
        },
        std::move(done));
}

void Store::RecordPasswordEmailSent(const std::string& customer_id, core::Callback<void> done) {
    impl_->Write(
        "record password email sent",
        [impl = impl_.get(), customer_id]() -> core::Status {
            impl->UpsertAccount(impl->w.upsert_email_sent, customer_id);
            return {};
        },
        std::move(done));
}

void Store::CompleteJob(std::int64_t job_id, const std::string& customer_id,
                        const std::optional<provision::OutboundEvent>& event,
                        core::Callback<void> done) {
    impl_->Write(
        "complete job",
        [impl = impl_.get(), job_id, customer_id, event]() -> core::Status {
            auto now = impl->NowMs();
            StatementUse update(impl->w.complete_job);
            update->bind(1, now);
            update->bind(2, job_id);
            if (update->exec() == 0) return NotInState("complete job", job_id, "pending");
            impl->RefreshHead(impl->CustomerOf(job_id));
            if (event) {
                impl->InsertOutbox(*event, now, impl->EventOf(job_id), false);
                if (event->announces_user) {
                    impl->UpsertAccount(impl->w.upsert_published, customer_id);
                }
            }
            return {};
        },
        std::move(done));
}

void Store::RescheduleJob(std::int64_t job_id, int attempts, core::TimePoint next_attempt_at,
                          const core::Error& error, core::Callback<void> done) {
    impl_->Write(
        "reschedule job",
        [impl = impl_.get(), job_id, attempts, next_attempt_at, error]() -> core::Status {
            return impl->UpdatePending("reschedule job", job_id, "pending", attempts,
                                       core::ToUnixMillis(next_attempt_at), error);
        },
        std::move(done));
}

void Store::FailJob(std::int64_t job_id, int attempts, const core::Error& error,
                    core::Callback<void> done) {
    impl_->Write(
        "fail job",
        [impl = impl_.get(), job_id, attempts, error]() -> core::Status {
            return impl->UpdatePending("fail job", job_id, "failed", attempts, impl->NowMs(),
                                       error);
        },
        std::move(done));
}

}  // namespace kyc_bridge::store
