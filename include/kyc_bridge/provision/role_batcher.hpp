// SPDX-License-Identifier: Apache-2.0
// Role assignment in batches: one POST /api/v2/roles/{id}/users for every user waiting then.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kyc_bridge/auth0/auth0_api.hpp"
#include "kyc_bridge/core/async.hpp"
#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/core/timers.hpp"

namespace kyc_bridge::provision {

/// Gives a user kyc-bridge's roles. `done` runs once every role is assigned, or with the first
/// failure; on any thread.
class RoleAssigner {
public:
    virtual ~RoleAssigner() = default;
    virtual void Assign(const std::string& user_id, core::Callback<void> done) = 0;
};

/// One call per user (POST /api/v2/users/{id}/roles with every role): provision.role_batch_size = 1.
class PerUserRoleAssigner final : public RoleAssigner {
public:
    PerUserRoleAssigner(auth0::Auth0Api& api, std::vector<std::string> role_ids)
        : api_(api), role_ids_(std::move(role_ids)) {}
    void Assign(const std::string& user_id, core::Callback<void> done) override;

private:
    auth0::Auth0Api& api_;
    std::vector<std::string> role_ids_;
};

struct RoleBatchSettings {
    std::size_t max_users = 100;             ///< provision.role_batch_size
    std::chrono::milliseconds wait{0};       ///< provision.role_batch_wait_ms
};

struct RoleBatchStats {
    std::atomic<std::uint64_t> batches{0};         ///< batch calls sent
    std::atomic<std::uint64_t> users_batched{0};   ///< users in them
    std::atomic<std::uint64_t> fallbacks{0};       ///< batches split into per-user calls
};

/// Users queue per role. While a role has users waiting, one request of it waits for the pacer;
/// when the pacer grants it, every user waiting then (up to max_users) goes into that one call.
/// So batches grow exactly when the tenant's budget is the limit, and add no wait when it is not
/// (`wait` lets a lone user wait for company). A 404 or 400 on a batch ("One or more of the users
/// do not exist.") splits it: each of its users falls back to its own per-user call, which
/// classifies that user's failure. Thread-safe; `timers` and `api` must outlive it.
class RoleBatcher final : public RoleAssigner {
public:
    RoleBatcher(auth0::Auth0Api& api, std::vector<std::string> role_ids, RoleBatchSettings settings,
                core::Timers& timers, const core::Clock& clock);
    void Assign(const std::string& user_id, core::Callback<void> done) override;
    const RoleBatchStats& stats() const { return stats_; }

private:
    struct Waiter;
    struct Queue {
        std::deque<std::shared_ptr<Waiter>> waiting;
        bool requested = false;  ///< a batch request of this role waits for the pacer
    };
    void Request(const std::string& role_id);
    std::vector<std::shared_ptr<Waiter>> Take(const std::string& role_id);
    void Finished(const std::string& role_id, std::vector<std::shared_ptr<Waiter>> batch,
                  const core::Status& status);
    static void RoleDone(const std::shared_ptr<Waiter>& waiter, const core::Status& status);

    auth0::Auth0Api& api_;
    const std::vector<std::string> role_ids_;
    const RoleBatchSettings settings_;
    core::Timers& timers_;
    const core::Clock& clock_;
    RoleBatchStats stats_;
    std::mutex mutex_;
    std::map<std::string, Queue> queues_;
    /// Users whose own per-user call answered 404: their retries go per-user, so that one
    /// deleted user does not fail (and split) a new batch on every attempt.
    std::set<std::string> not_found_;
};

}  // namespace kyc_bridge::provision
