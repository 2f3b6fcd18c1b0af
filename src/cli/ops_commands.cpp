// SPDX-License-Identifier: Apache-2.0
// The ops verbs' command line: options, the store path from --store or the config, dispatch.
#include "ops_commands.hpp"

#include <pwd.h>
#include <unistd.h>

#include <ctime>
#include <iostream>

#include "kyc_bridge/config/config.hpp"

namespace kyc_bridge::cli {

std::chrono::milliseconds ParseDuration(const std::string& text) {
    std::size_t used = 0;
    long long count = -1;
    try {
        count = std::stoll(text, &used);
    } catch (const std::exception&) {
    }
    if (count < 0 || used + 1 != text.size()) {
        throw std::invalid_argument("'" + text + "' is not a duration like 45s, 30m, 2h or 7d");
    }
    using namespace std::chrono;
    switch (text.back()) {
        case 's':
            return seconds{count};
        case 'm':
            return minutes{count};
        case 'h':
            return hours{count};
        case 'd':
            return hours{24 * count};
        default:
            throw std::invalid_argument("'" + text + "' is not a duration like 45s, 30m, 2h or 7d");
    }
}

std::string FormatTime(std::int64_t unix_ms) {
    if (unix_ms == 0) return "-";
    std::time_t seconds = unix_ms / 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

std::int64_t NowMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

store::AuditContext Actor(const std::string& action, const std::string& reason) {
    store::AuditContext audit{action, reason, "uid:" + std::to_string(geteuid()), "unknown"};
    if (const passwd* user = getpwuid(geteuid()); user && user->pw_name)
        audit.os_user = user->pw_name;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') audit.host = host;
    return audit;
}

CLI::App* OpsCommands::AddStoreVerb(CLI::App* parent, const std::string& name,
                                    const std::string& help, Verb verb) {
    auto* command = parent->add_subcommand(name, help);
    command->add_option("-c,--config", options_.config_path,
                        "TOML config file (only store.* is needed: no Auth0 secret)");
    command->add_option("--store", options_.store_path, "The store file (instead of --config)");
    command->add_flag("--json", options_.json, "JSON instead of text (lists: one object a line)");
    verbs_.emplace_back(command, std::move(verb));
    return command;
}

void OpsCommands::AddFilters(CLI::App* command) {
    command->add_option("--since", options_.since, "Failed within this long: 30m, 2h, 7d");
    command->add_option(
        "--error-class", options_.error_class,
        "transient, rate_limited, unauthorized, configuration, permanent, conflict");
    command->add_option("--customer", options_.customer, "Only this customer id");
}

OpsCommands::OpsCommands(CLI::App& app) {
    AddStoreVerb(&app, "status", "Jobs by state, oldest pending, outbox, quarantine, last errors",
                 Status);

    auto* failed = app.add_subcommand("failed", "Failed jobs: list them, explain one");
    failed->require_subcommand(1);
    auto* failed_list = AddStoreVerb(failed, "list", "Failed jobs, newest first", FailedList);
    AddFilters(failed_list);
    failed_list->add_option("--limit", options_.limit, "At most this many rows");
    AddStoreVerb(failed, "show", "A job, its recorded steps and every attempt's error", FailedShow)
        ->add_option("job_id", options_.id, "The job")
        ->required();

    auto* replay = AddStoreVerb(
        &app, "replay", "Put failed jobs back to pending with a fresh attempt budget", Replay);
    replay->add_option("job_ids", options_.job_ids, "Jobs to replay (or --all-failed)");
    replay->add_flag("--all-failed", options_.all_failed, "Every failed job matching the filters");
    AddFilters(replay);
    replay->add_flag("--dry-run", options_.dry_run, "List what would be replayed; change nothing");
    replay
        ->add_option("--max-per-second", options_.max_per_second,
                     "Spread the replayed jobs' due times: job i is due at now + i/N s")
        ->check(CLI::PositiveNumber);
    replay->add_option("--reason", options_.reason, "Why (written to the audit trail)")->required();

    auto* rejected = app.add_subcommand("rejected", "Events rejected as invalid (dead-lettered)");
    rejected->require_subcommand(1);
    AddStoreVerb(rejected, "list", "Rejected events with their ids and reasons", RejectedList)
        ->add_option("--limit", options_.limit, "At most this many rows");
    auto* rejected_replay = AddStoreVerb(
        rejected, "replay", "Validate a rejected event again; ingest it as a job if valid now",
        RejectedReplay);
    rejected_replay->add_option("id", options_.id, "The id from `rejected list`")->required();
    rejected_replay->add_option("--reason", options_.reason, "Why (audited)")->required();

    auto* audit = app.add_subcommand("audit", "The audit trail of ops actions");
    audit->require_subcommand(1);
    auto* audit_list = AddStoreVerb(audit, "list", "Audit rows, oldest first", AuditList);
    audit_list->add_option("--since", options_.since, "Within this long: 30m, 2h, 7d");
    audit_list->add_option("--limit", options_.limit, "At most this many rows");

    auto* purge = AddStoreVerb(
        &app, "purge",
        "Erase the personal fields of rejected events and failed jobs older than a duration",
        Purge);
    purge->add_option("--older-than", options_.older_than, "45s, 30m, 2h, 7d")->required();
    purge->add_flag("--dry-run", options_.dry_run, "Count what would be erased; change nothing");
    purge->add_option("--reason", options_.reason, "Why (added to the audit trail)");

    auto* outbox = app.add_subcommand("outbox", "Outbox rows the relay could not publish");
    outbox->require_subcommand(1);
    AddStoreVerb(outbox, "set-aside",
                 "List rows Kafka refused for good (e.g. too large), with the reason", SetAsideList)
        ->add_option("--limit", options_.limit, "At most this many rows");

    // The older verbs, kept: `jobs replay ID` is `replay ID --reason "jobs replay"`.
    auto* jobs = app.add_subcommand("jobs", "List and replay provisioning jobs in the store");
    jobs->require_subcommand(1);
    auto* jobs_list = AddStoreVerb(jobs, "list", "List jobs (default: failed ones)", JobsList);
    jobs_list->add_option("--state", options_.state, "pending, done or failed")
        ->check(CLI::IsMember({"pending", "done", "failed"}));
    jobs_list->add_option("--limit", options_.limit, "At most this many rows");
    jobs_replay_ =
        AddStoreVerb(jobs, "replay", "Put a failed job back in the queue, due now", Replay);
    jobs_replay_->add_option("job_id", options_.id, "The job to replay")->required();

    check_config_ = app.add_subcommand(
        "check-config", "Validate the config; check the token's scopes, the roles and the topics");
    check_config_->add_option("-c,--config", options_.config_path, "TOML config file")->required();
    check_config_->add_flag("--json", options_.json, "One JSON object");
}

int OpsCommands::Execute() {
    if (*check_config_) return CheckConfig(options_);
    if (*jobs_replay_) {
        options_.job_ids = {options_.id};
        options_.reason = "jobs replay";
    }
    std::string store_path = options_.store_path;
    int busy_timeout_ms = 5000;
    if (store_path.empty()) {
        try {
            auto config = config::LoadConfig(options_.config_path, config::ProcessEnvironment(),
                                             config::Secrets::kSkip);
            store_path = config.store.path;
            busy_timeout_ms = config.store.busy_timeout_ms;
        } catch (const config::ConfigError& e) {
            std::cerr << "kyc-bridge: config error: " << e.what() << "\n";
            return kExitConfig;
        }
    }
    core::SystemClock clock;
    try {
        store::StoreOptions store_options;
        store_options.open = store::StoreOptions::Open::kOpenExisting;
        store::Store store(store_path, std::chrono::milliseconds{busy_timeout_ms}, clock,
                           store_options);
        for (const auto& [command, verb] : verbs_) {
            if (*command) return verb(store, options_);
        }
        std::cerr << "kyc-bridge: no verb chosen\n";
        return kExitProblem;
    } catch (const std::invalid_argument& e) {
        std::cerr << "kyc-bridge: " << e.what() << "\n";
        return kExitProblem;
    } catch (const std::exception& e) {
        std::cerr << "kyc-bridge: store error: " << e.what() << "\n";
        return kExitProblem;
    }
}

}  // namespace kyc_bridge::cli
