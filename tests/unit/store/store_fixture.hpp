// SPDX-License-Identifier: Apache-2.0
// A fresh store file in its own temp directory, a fake clock, and event builders for store tests.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "kyc_bridge/core/clock.hpp"
#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::store::testing {

inline events::KycVerified Event(const std::string& event_id, const std::string& customer_id) {
    events::KycVerified e;
    e.event_id = event_id;
    e.event_type = "customer.kyc_verified";
    e.occurred_at = "2026-11-22T10:00:00Z";
    e.customer_id = customer_id;
    e.kyc_status = "VERIFIED";
    e.email = customer_id + "@example.com";
    e.given_name = "Jane";
    e.locale = "en-GB";
    return e;
}

inline AcceptedEvent Accepted(const std::string& event_id, const std::string& customer_id,
                              std::int64_t offset = 0) {
    return AcceptedEvent{Origin{"customer.kyc_verified", 0, offset}, Event(event_id, customer_id), {}};
}

inline provision::OutboundEvent Outbound(const std::string& event_id, const std::string& key) {
    return provision::OutboundEvent{event_id,
                                    "auth.user_created",
                                    key,
                                    R"({"id":")" + event_id + "\"}",
                                    {{"content-type", "application/json"}, {"trace", "t-1"}}};
}

/// Owns a raw sqlite3 connection, to act as another process on the same file.
using RawDb = std::unique_ptr<sqlite3, decltype(&sqlite3_close)>;

inline RawDb OpenRaw(const std::string& path) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    return RawDb(db, &sqlite3_close);
}

/// Waits for the callback of a queued write; a callback that never comes fails after 10 s.
template <typename Start>
core::Status Wait(Start&& start) {
    auto promise = std::make_shared<std::promise<core::Status>>();
    auto future = promise->get_future();
    start([promise](core::Status status) { promise->set_value(std::move(status)); });
    if (future.wait_for(std::chrono::seconds{10}) != std::future_status::ready) {
        return core::Error::Transient("test: no callback within 10 s", "test_timeout");
    }
    return future.get();
}

/// The ledger's queued writes, each waited for: for tests of one write's outcome at a time.
class SyncLedger {
public:
    explicit SyncLedger(Store& store) : store_(store) {}
    core::Status RecordUser(std::int64_t job_id, const std::string& customer_id,
                            const std::string& auth0_user_id, const std::string& outcome) {
        return Wait([&](auto done) {
            store_.RecordUser(job_id, customer_id, auth0_user_id, outcome, done);
        });
    }
    core::Status RecordProfileApplied(std::int64_t job_id) {
        return Wait([&](auto done) { store_.RecordProfileApplied(job_id, done); });
    }
    core::Status RecordRolesAssigned(const std::string& customer_id) {
        return Wait([&](auto done) { store_.RecordRolesAssigned(customer_id, done); });
    }
    core::Status RecordPasswordEmailSending(const std::string& customer_id) {
        return Wait([&](auto done) { store_.RecordPasswordEmailSending(customer_id, done); });
    }
    core::Status RecordPasswordEmailSent(const std::string& customer_id) {
        return Wait([&](auto done) { store_.RecordPasswordEmailSent(customer_id, done); });
    }
    core::Status CompleteJob(std::int64_t job_id, const std::string& customer_id,
                             const std::optional<provision::OutboundEvent>& event) {
        return Wait([&](auto done) { store_.CompleteJob(job_id, customer_id, event, done); });
    }
    core::Status RescheduleJob(std::int64_t job_id, int attempts, core::TimePoint next_attempt_at,
                               const core::Error& error) {
        return Wait([&](auto done) {
            store_.RescheduleJob(job_id, attempts, next_attempt_at, error, done);
        });
    }
    core::Status FailJob(std::int64_t job_id, int attempts, const core::Error& error) {
        return Wait([&](auto done) { store_.FailJob(job_id, attempts, error, done); });
    }

private:
    Store& store_;
};

inline SyncLedger Sync(Store& store) { return SyncLedger(store); }

class StoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (std::filesystem::temp_directory_path() / "kb-store-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        path_ = (dir_ / "state" / "kyc-bridge.db").string();  // "state" does not exist yet
        store_ = Open();
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    std::unique_ptr<Store> Open(std::chrono::milliseconds busy_timeout = std::chrono::seconds{5},
                                StoreOptions options = {}) {
        return std::make_unique<Store>(path_, busy_timeout, clock_, options);
    }
    std::int64_t NowMs() const { return core::ToUnixMillis(clock_.Now()); }

    core::FakeClock clock_;
    std::filesystem::path dir_;
    std::string path_;
    std::unique_ptr<Store> store_;
};

}  // namespace kyc_bridge::store::testing
