// SPDX-License-Identifier: Apache-2.0
// A fresh store file in its own temp directory, a fake clock, and event builders for store tests.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

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
    return AcceptedEvent{Origin{"customer.kyc_verified", 0, offset}, Event(event_id, customer_id)};
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
    std::unique_ptr<Store> Open(std::chrono::milliseconds busy_timeout = std::chrono::seconds{5}) {
        return std::make_unique<Store>(path_, busy_timeout, clock_);
    }
    std::int64_t NowMs() const { return core::ToUnixMillis(clock_.Now()); }

    core::FakeClock clock_;
    std::filesystem::path dir_;
    std::string path_;
    std::unique_ptr<Store> store_;
};

}  // namespace kyc_bridge::store::testing
