// SPDX-License-Identifier: Apache-2.0
// RoleBatcher: per-role queues, a batch formed at the pacer's grant, per-user fallback on 404/400.
#include "kyc_bridge/provision/role_batcher.hpp"

#include <utility>

#include "kyc_bridge/core/logging.hpp"

namespace kyc_bridge::provision {

/// One user's wait for all of its roles.
struct RoleBatcher::Waiter {
    std::string user_id;
    core::Callback<void> done;
    std::mutex mutex;
    std::size_t roles_left = 0;
    std::optional<core::Error> first_error;
};

void PerUserRoleAssigner::Assign(const std::string& user_id, core::Callback<void> done) {
    if (role_ids_.empty()) {
        done(core::Status{});
        return;
    }
    api_.AssignRoles(user_id, role_ids_, std::move(done));
}

RoleBatcher::RoleBatcher(auth0::Auth0Api& api, std::vector<std::string> role_ids,
                         RoleBatchSettings settings, core::Timers& timers,
                         const core::Clock& clock)
    : api_(api), role_ids_(std::move(role_ids)), settings_(settings), timers_(timers),
      clock_(clock) {}

void RoleBatcher::Assign(const std::string& user_id, core::Callback<void> done) {
    if (role_ids_.empty()) {
        done(core::Status{});
        return;
    }
    bool suspect = false;
    {
        std::lock_guard lock(mutex_);
        suspect = not_found_.count(user_id) > 0;
    }
    if (suspect) {
        api_.AssignRoles(user_id, role_ids_, [this, user_id, done](core::Status status) {
            if (status) {
                std::lock_guard lock(mutex_);
                not_found_.erase(user_id);
            }
            done(status);
        });
        return;
    }
    auto waiter = std::make_shared<Waiter>();
    waiter->user_id = user_id;
    waiter->done = std::move(done);
    waiter->roles_left = role_ids_.size();
    std::vector<std::string> to_request;
    {
        std::lock_guard lock(mutex_);
        for (const auto& role : role_ids_) {
            auto& queue = queues_[role];
            queue.waiting.push_back(waiter);
            if (!queue.requested) {
                queue.requested = true;
                to_request.push_back(role);
            }
        }
    }
    for (const auto& role : to_request) {
        if (settings_.wait.count() > 0) {
            timers_.After(settings_.wait, [this, role] { Request(role); }, clock_);
        } else {
            Request(role);
        }
    }
}

void RoleBatcher::Request(const std::string& role_id) {
    // The batch is taken when the pacer grants the request, so it holds everyone who queued
    // while the request waited for the budget.
    struct Batch {
        bool taken = false;
        std::vector<std::shared_ptr<Waiter>> waiters;
    };
    auto batch = std::make_shared<Batch>();
    api_.AssignUsersToRole(
        role_id,
        [this, role_id, batch] {
            batch->taken = true;
            batch->waiters = Take(role_id);
            std::vector<std::string> users;
            users.reserve(batch->waiters.size());
            for (const auto& waiter : batch->waiters) users.push_back(waiter->user_id);
            return users;
        },
        [this, role_id, batch](core::Status status) {
            // Failed before the grant (no token, shutdown): the users waiting now were meant for
            // this request; they get its error, or the queue would wait for a grant that never
            // comes.
            if (!batch->taken) batch->waiters = Take(role_id);
            Finished(role_id, std::move(batch->waiters), status);
        });
}

std::vector<std::shared_ptr<RoleBatcher::Waiter>> RoleBatcher::Take(const std::string& role_id) {
    std::vector<std::shared_ptr<Waiter>> batch;
    bool more = false;
    {
        std::lock_guard lock(mutex_);
        auto& queue = queues_[role_id];
        while (!queue.waiting.empty() && batch.size() < settings_.max_users) {
            batch.push_back(std::move(queue.waiting.front()));
            queue.waiting.pop_front();
        }
        more = !queue.waiting.empty();
        queue.requested = more;
    }
    // More than one batch waiting: the next request is queued from the timer thread, not from
    // inside the pacer's grant.
    if (more) timers_.At(clock_.Now(), [this, role_id] { Request(role_id); });
    ++stats_.batches;
    stats_.users_batched += batch.size();
    return batch;
}

void RoleBatcher::Finished(const std::string& role_id, std::vector<std::shared_ptr<Waiter>> batch,
                           const core::Status& status) {
    const bool split = !status && (status.error().http_status == 404 ||
                                   status.error().http_status == 400);
    if (!split) {
        for (const auto& waiter : batch) RoleDone(waiter, status);
        return;
    }
    ++stats_.fallbacks;
    core::Logger("provisioner")
        ->warn("event=role_batch_split role_id={} users={} status={} hint=\"each user falls back "
               "to POST /api/v2/users/{{id}}/roles\"",
               role_id, batch.size(), status.error().http_status);
    for (const auto& waiter : batch) {
        api_.AssignRoles(waiter->user_id, {role_id}, [this, waiter](core::Status one) {
            if (!one && one.error().http_status == 404) {
                std::lock_guard lock(mutex_);
                not_found_.insert(waiter->user_id);
            }
            RoleDone(waiter, one);
        });
    }
}

void RoleBatcher::RoleDone(const std::shared_ptr<Waiter>& waiter, const core::Status& status) {
    bool last = false;
    {
        std::lock_guard lock(waiter->mutex);
        if (!status && !waiter->first_error) waiter->first_error = status.error();
        last = --waiter->roles_left == 0;
    }
    if (!last) return;
    if (waiter->first_error) {
        waiter->done(*waiter->first_error);
    } else {
        waiter->done(core::Status{});
    }
}

}  // namespace kyc_bridge::provision
