// SPDX-License-Identifier: Apache-2.0
// Issue #9, personal data, judged from the store file the real daemon writes: owner-only modes,
// no email or name left once the jobs are done and their events sent, rejected events kept
// until `kyc-bridge purge` (audited) erases them.
#include <sys/stat.h>

#include <fstream>

#include "pipeline_fixture.hpp"
#include "store_text.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

unsigned ModeOf(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return 07777;
    return info.st_mode & 07777;
}

/// Every text cell of every table: what a copy of the file would give away.
class PersonalDataTest : public PipelineTest {
protected:
    std::string StorePath() const { return dir_ + "/store/kyc-bridge.db"; }
    /// `kyc-bridge ARGS --config ... --json`: exit code and output.
    std::pair<int, std::string> Cli(std::vector<std::string> args) {
        const auto log = dir_ + "/cli-" + std::to_string(++runs_) + ".txt";
        args.insert(args.begin(), RequiredEnv("KYC_BRIDGE"));
        args.insert(args.end(), {"--json", "--config", dir_ + "/config.toml"});
        ChildProcess cli(args, {}, log);
        int code = cli.WaitExit(20s).value_or(-1);
        std::ifstream in(log);
        return {code, std::string(std::istreambuf_iterator<char>(in), {})};
    }
    int runs_ = 0;
};

TEST_F(PersonalDataTest, TheStoreIsOwnerOnlyAndKeepsNoPersonalFieldOnceJobsAreDone) {
    StartEmulator();
    StartDaemon();
    std::vector<std::pair<std::string, std::string>> events;
    for (int i = 0; i < 10; ++i) {
        const auto customer = "cus_pd_" + std::to_string(i);
        auto event = KycEvent("evt-pd-" + std::to_string(i), customer,
                              "pd.person." + std::to_string(i) + "@example.com", "Gwendolyn");
        event["family_name"] = "Oyelaran-Quist";
        event["phone_number"] = "+4915112345" + std::to_string(100 + i);
        events.emplace_back(customer, event.dump());
    }
    // A poison event: kept (with its personal data) for ops until replayed or purged.
    events.emplace_back("cus_pd_bad", R"({"event_id":"evt-pd-bad","email":"poison.person@example.com"})");
    Publish(events);
    WaitUntil([&] { return PublishedCustomers().size() == 10; }, 60s, "10 customers published");

    EXPECT_EQ(ModeOf(StorePath()), 0600u);
    EXPECT_EQ(ModeOf(StorePath() + "-wal"), 0600u);
    EXPECT_EQ(ModeOf(StorePath() + "-shm"), 0600u);
    EXPECT_EQ(ModeOf(dir_ + "/store"), 0700u) << "a directory kyc-bridge created";

    // keep_personal_data_s = 0: erased within about a second of the events being sent.
    WaitUntil(
        [&] {
            auto text = AllStoreText(StorePath());
            return text.find("pd.person.") == std::string::npos &&
                   text.find("Gwendolyn") == std::string::npos;
        },
        20s, "no email or name of a done job left in the store");
    const auto text = AllStoreText(StorePath());
    EXPECT_EQ(text.find("Oyelaran-Quist"), std::string::npos);
    EXPECT_EQ(text.find("+4915112345"), std::string::npos);
    EXPECT_NE(text.find("cus_pd_3"), std::string::npos) << "the customer id stays";
    EXPECT_NE(text.find("evt-pd-3"), std::string::npos) << "the event id stays (deduplication)";
    EXPECT_NE(text.find("poison.person@example.com"), std::string::npos)
        << "a rejected event keeps its payload until it is purged";

    // A redelivered event is still a duplicate after its payload is gone: no second user.
    Publish({events[3]});
    std::this_thread::sleep_for(2s);
    EXPECT_EQ(UsersByCustomer()["cus_pd_3"].size(), 1u);

    auto [dry_code, dry] = Cli({"purge", "--older-than", "0s", "--dry-run"});
    ASSERT_EQ(dry_code, 0) << dry;
    auto dry_json = json::parse(dry);
    EXPECT_EQ(dry_json["rejected"], 1);
    EXPECT_TRUE(dry_json["dry_run"].get<bool>());
    EXPECT_NE(AllStoreText(StorePath()).find("poison.person@example.com"), std::string::npos);

    auto [code, out] = Cli({"purge", "--older-than", "0s", "--reason", "retention test"});
    ASSERT_EQ(code, 0) << out;
    EXPECT_EQ(json::parse(out)["rejected"], 1);
    EXPECT_EQ(AllStoreText(StorePath()).find("poison.person@example.com"), std::string::npos);
    auto [audit_code, audit] = Cli({"audit", "list"});
    EXPECT_EQ(audit_code, 0);
    EXPECT_NE(audit.find("\"purge\""), std::string::npos) << audit;
    EXPECT_NE(audit.find("retention test"), std::string::npos) << audit;

    EXPECT_EQ(StopDaemon(), 0);
    std::ifstream log(dir_ + "/daemon.log");
    std::string lines(std::istreambuf_iterator<char>(log), {});
    EXPECT_EQ(lines.find("pd.person."), std::string::npos) << "an email in the log";
    EXPECT_EQ(lines.find("Gwendolyn"), std::string::npos) << "a name in the log";
}

}  // namespace
}  // namespace kyc_bridge::testing
