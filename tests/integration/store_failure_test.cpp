// SPDX-License-Identifier: Apache-2.0
// A store error that retrying cannot heal (issue #9): the real binary stops with exit 1 and a
// line naming the file, and acknowledges nothing it could not make durable — the events it could
// not store are consumed again once the store is restored.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;

class StoreFailure : public PipelineTest {};

TEST_F(StoreFailure, ACorruptStoreStopsTheDaemonWithExit1AndLosesNothing) {
    StartEmulator();
    StartDaemon();
    Publish(NewCustomers("cus_sf", 5));
    WaitUntil([&] { return PublishedCustomers().size() == 5; }, 60s, "the first 5 provisioned");
    ASSERT_EQ(StopDaemon(), 0);  // a clean stop checkpoints the WAL into the file

    const auto db = dir_ + "/store/kyc-bridge.db";
    std::filesystem::copy_file(db, db + ".good");
    {
        // Garbage over every page but the first: the next read of the tree is SQLITE_CORRUPT.
        std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(4096);
        const std::string junk(256 * 1024, '\x5a');
        file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    Publish(NewCustomers("cus_sf", 5, 5));
    StartDaemon();
    auto code = daemon_->WaitExit(60s);
    ASSERT_TRUE(code.has_value()) << "the daemon kept running on a corrupt store";
    EXPECT_EQ(*code, 1);
    const auto log = WaitForFile(dir_ + "/daemon.log", 5s);
    EXPECT_NE(log.find(db), std::string::npos) << "the last lines name the store file:\n" << log;
    EXPECT_EQ(UsersByCustomer().size(), 5u);

    // The good copy back (a restore from backup), a restart consumes again what the corrupt
    // store never took: nothing was acknowledged to Kafka.
    std::filesystem::remove(db + "-wal");
    std::filesystem::remove(db + "-shm");
    std::filesystem::rename(db + ".good", db);
    StartDaemon();
    WaitUntil([&] { return PublishedCustomers().size() == 10; }, 90s,
              "the 5 events the corrupt store could not take, provisioned after the restart");
    EXPECT_EQ(UsersByCustomer().size(), 10u);
    EXPECT_EQ(StopDaemon(), 0);
}

}  // namespace
}  // namespace kyc_bridge::testing
