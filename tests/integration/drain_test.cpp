// SPDX-License-Identifier: Apache-2.0
// Scale-down (issue #11): a replica's store keeps jobs whose offsets are committed, so no other
// replica will ever see them. `kyc-bridge run --drain` finishes them and sends the outbox without
// joining the consumer group, then exits 0 (3 when stopped before it is done).
#include <signal.h>

#include <chrono>
#include <thread>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;

class DrainTest : public PipelineTest {};

TEST_F(DrainTest, DrainFinishesAStoppedReplicasJobsWithoutConsuming) {
    StartEmulator();
    // A slow tenant and a short shutdown leave jobs pending in the store at the stop.
    extra_toml_ = "[provision]\nconcurrency = 4\n[daemon]\nshutdown_timeout_s = 2\n";
    EmulatorPost("/__emulator/faults", {{"kind", "delay"}, {"delay_ms", 300}, {"rate", 1.0},
                                        {"duration_ms", 600000}, {"path_prefix", "/api/v2/"}});
    StartDaemon();
    Publish(NewCustomers("cus_drain", 40));
    WaitUntil([&] { return JobStates()["done"] >= 3; }, 60s, "provisioning under way");
    ASSERT_EQ(StopDaemon(), 0);
    const int left = JobStates()["pending"];
    ASSERT_GT(left, 0) << "nothing left to drain: the test would prove nothing";
    std::cout << "drain: " << left << " of 40 jobs pending at the stop\n";

    // Events after the stop belong to the group (the other replicas), not to the drain.
    Publish(NewCustomers("cus_after", 5));
    EmulatorDelete("/__emulator/faults");
    ChildProcess drain({RequiredEnv("KYC_BRIDGE"), "run", "--drain", "--config",
                        dir_ + "/config.toml"},
                       {}, dir_ + "/drain.log");
    auto code = drain.WaitExit(120s);
    ASSERT_TRUE(code.has_value()) << "run --drain did not stop by itself";
    EXPECT_EQ(*code, 0);
    auto states = JobStates();
    EXPECT_EQ(states["pending"], 0);
    EXPECT_EQ(states["done"], 40);
    WaitUntil([&] { return PublishedCustomers().size() == 40; }, 30s,
              "every drained job's auth.user_created sent");
    auto users = UsersByCustomer();
    EXPECT_EQ(users.size(), 40u);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(users.count("cus_after_" + std::to_string(i)), 0u) << "the drain consumed input";
    }

    // A drain stopped before it is done says so: exit 3, not 0.
    EmulatorPost("/__emulator/faults", {{"kind", "delay"}, {"delay_ms", 300}, {"rate", 1.0},
                                        {"duration_ms", 600000}, {"path_prefix", "/api/v2/"}});
    StartDaemon();
    Publish(NewCustomers("cus_more", 40));
    WaitUntil([&] { return JobStates()["done"] >= 48; }, 60s, "the next batch under way");
    ASSERT_EQ(StopDaemon(), 0);
    ASSERT_GT(JobStates()["pending"], 0);
    ChildProcess interrupted({RequiredEnv("KYC_BRIDGE"), "run", "--drain", "--config",
                              dir_ + "/config.toml"},
                             {}, dir_ + "/drain-interrupted.log");
    std::this_thread::sleep_for(1500ms);
    interrupted.Signal(SIGTERM);
    EXPECT_EQ(interrupted.WaitExit(60s), 3) << "a drain stopped with jobs pending exited as done";
    EmulatorDelete("/__emulator/faults");

    // The group's next member takes the events the drains left alone, and the pending jobs.
    StartDaemon();
    WaitUntil([&] { return PublishedCustomers().size() == 85; }, 90s,
              "the 5 later customers and the rest of the next batch");
    EXPECT_EQ(StopDaemon(), 0);
}

}  // namespace
}  // namespace kyc_bridge::testing
