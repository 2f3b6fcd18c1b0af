// SPDX-License-Identifier: Apache-2.0
// The ops verbs: read the config for the store path, open the store, print or change rows.
#include "ops_commands.hpp"

#include <iostream>

#include <nlohmann/json.hpp>

#include "kyc_bridge/config/config.hpp"
#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::cli {

OpsCommands::OpsCommands(CLI::App& app) {
    auto* jobs = app.add_subcommand("jobs", "List and replay provisioning jobs in the store");
    jobs->require_subcommand(1);
    jobs_list_ = jobs->add_subcommand("list", "List jobs (default: failed ones)");
    jobs_list_->add_option("--state", state_, "pending, done or failed")
        ->check(CLI::IsMember({"pending", "done", "failed"}));
    jobs_list_->add_option("--limit", limit_, "At most this many rows");
    jobs_list_->add_flag("--json", json_, "One JSON object per line");
    jobs_replay_ = jobs->add_subcommand("replay", "Put a failed job back in the queue, due now");
    jobs_replay_->add_option("job_id", job_id_, "The job to replay")->required();
    auto* rejected = app.add_subcommand("rejected", "Events rejected as invalid (dead-lettered)");
    rejected->require_subcommand(1);
    rejected_list_ = rejected->add_subcommand("list", "List rejected events with their reasons");
    rejected_list_->add_option("--limit", limit_, "At most this many rows");
    rejected_list_->add_flag("--json", json_, "One JSON object per line");
    auto* outbox = app.add_subcommand("outbox", "Outbox rows the relay could not publish");
    outbox->require_subcommand(1);
    set_aside_list_ = outbox->add_subcommand(
        "set-aside", "List rows Kafka refused for good (e.g. too large), with the reason");
    set_aside_list_->add_option("--limit", limit_, "At most this many rows");
    set_aside_list_->add_flag("--json", json_, "One JSON object per line");
    for (auto* command : {jobs_list_, jobs_replay_, rejected_list_, set_aside_list_}) {
        command->add_option("-c,--config", config_path_, "TOML config file (for store.path)");
    }
}

int OpsCommands::PrintSetAside(store::Store& store) const {
    auto rows = store.ListSetAside(limit_);
    if (!rows) throw std::runtime_error(rows.error().message);
    if (!json_) std::cout << "seq\tevent_id\ttopic\treason\n";
    for (const auto& row : *rows) {
        if (json_) {
            std::cout << nlohmann::json{{"seq", row.seq}, {"event_id", row.event_id},
                                        {"topic", row.topic}, {"reason", row.reason},
                                        {"set_aside_at_ms", row.set_aside_at_ms}}
                             .dump()
                      << "\n";
        } else {
            std::cout << row.seq << "\t" << row.event_id << "\t" << row.topic << "\t" << row.reason
                      << "\n";
        }
    }
    return 0;
}

int OpsCommands::Execute() {
    std::string store_path;
    int busy_timeout_ms = 5000;
    try {
        auto config = config::LoadConfig(config_path_, config::ProcessEnvironment());
        store_path = config.store.path;
        busy_timeout_ms = config.store.busy_timeout_ms;
    } catch (const config::ConfigError& e) {
        std::cerr << "kyc-bridge: config error: " << e.what() << "\n";
        return 2;
    }
    core::SystemClock clock;
    try {
        store::Store store(store_path, std::chrono::milliseconds{busy_timeout_ms}, clock);
        if (*jobs_list_) {
            auto jobs = store.ListJobs(state_, limit_);
            if (!jobs) throw std::runtime_error(jobs.error().message);
            if (!json_) std::cout << "job_id\tcustomer_id\tstate\tattempts\tlast_error\n";
            for (const auto& j : *jobs) {
                if (json_) {
                    std::cout << nlohmann::json{{"job_id", j.job_id}, {"event_id", j.event_id},
                                                {"customer_id", j.customer_id}, {"state", j.state},
                                                {"attempts", j.attempts}, {"last_error", j.last_error},
                                                {"updated_at_ms", j.updated_at_ms}}
                                     .dump()
                              << "\n";
                } else {
                    std::cout << j.job_id << "\t" << j.customer_id << "\t" << j.state << "\t"
                              << j.attempts << "\t" << j.last_error << "\n";
                }
            }
            return 0;
        }
        if (*jobs_replay_) {
            auto replayed = store.ReplayJob(job_id_);
            if (!replayed) throw std::runtime_error(replayed.error().message);
            if (!*replayed) {
                std::cerr << "kyc-bridge: job " << job_id_ << " is not failed; nothing replayed\n";
                return 3;
            }
            std::cout << "job " << job_id_ << " queued for replay\n";
            return 0;
        }
        if (*set_aside_list_) return PrintSetAside(store);
        auto rejected = store.ListRejected(limit_);
        if (!rejected) throw std::runtime_error(rejected.error().message);
        if (!json_) std::cout << "source\tevent_id\treason\n";
        for (const auto& r : *rejected) {
            if (json_) {
                std::cout << nlohmann::json{{"topic", r.origin.topic}, {"partition", r.origin.partition},
                                            {"offset", r.origin.offset}, {"event_id", r.event_id},
                                            {"reason", r.reason}}
                                 .dump()
                          << "\n";
            } else {
                std::cout << r.origin.topic << "/" << r.origin.partition << "/" << r.origin.offset
                          << "\t" << r.event_id << "\t" << r.reason << "\n";
            }
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "kyc-bridge: store error: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace kyc_bridge::cli
