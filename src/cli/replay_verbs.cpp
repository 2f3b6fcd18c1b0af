// SPDX-License-Identifier: Apache-2.0
// The changing verbs: replay failed jobs, replay a rejected event, and the audit trail they leave.
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "kyc_bridge/events/kyc_verified.hpp"
#include "ops_verbs.hpp"

namespace kyc_bridge::cli {

namespace {

using nlohmann::json;

// Enough for any backlog an operator replays at once; more is a second run.
constexpr std::size_t kMaxReplay = 100000;

// The failed jobs the command line names: the ids given (or all, with --all-failed), narrowed
// by the filters. `skipped` gets ids given that are not failed or do not match.
std::vector<store::JobSummary> Selected(store::Store& store, const OpsOptions& options,
                                        std::vector<std::int64_t>& skipped) {
    auto failed = Must(store.ListFailedJobs(FilterFrom(options, kMaxReplay)));
    std::reverse(failed.begin(), failed.end());  // oldest first: the order they were queued in
    if (options.all_failed) return failed;
    std::set<std::int64_t> wanted(options.job_ids.begin(), options.job_ids.end());
    std::vector<store::JobSummary> selected;
    for (auto& job : failed) {
        if (wanted.erase(job.job_id) > 0) selected.push_back(std::move(job));
    }
    skipped.assign(wanted.begin(), wanted.end());
    return selected;
}

}  // namespace

int Replay(store::Store& store, const OpsOptions& options) {
    if (options.all_failed == !options.job_ids.empty()) {
        throw std::invalid_argument("replay: give job ids or --all-failed (one of them)");
    }
    if (options.reason.empty()) throw std::invalid_argument("replay: --reason must not be empty");
    std::vector<std::int64_t> skipped;
    auto selected = Selected(store, options, skipped);
    std::vector<std::int64_t> ids;
    for (const auto& job : selected) ids.push_back(job.job_id);
    for (auto id : skipped) {
        std::cerr << "kyc-bridge: job " << id << " is not failed"
                  << (options.since.empty() && options.error_class.empty() &&
                              options.customer.empty()
                          ? ""
                          : " or does not match the filters")
                  << "; not replayed\n";
    }
    std::vector<std::int64_t> replayed;
    if (!options.dry_run && !ids.empty()) {
        using namespace std::chrono;
        const auto spacing =
            options.max_per_second > 0
                ? duration_cast<microseconds>(duration<double>(1.0 / options.max_per_second))
                : microseconds{0};
        replayed = Must(store.ReplayJobs(ids, spacing, Actor("replay", options.reason)));
    }
    if (options.json) {
        json jobs = json::array();
        for (const auto& job : selected) {
            jobs.push_back({{"job_id", job.job_id},
                            {"customer_id", job.customer_id},
                            {"kind", job.kind},
                            {"error_class", job.last_error_kind},
                            {"last_error", job.last_error}});
        }
        std::cout << json{{"dry_run", options.dry_run},
                          {"selected", jobs},
                          {"replayed", replayed},
                          {"skipped", skipped}}
                         .dump()
                  << "\n";
    } else if (options.dry_run) {
        std::cout << "dry run: would replay " << selected.size() << " job(s)\n";
        for (const auto& job : selected) {
            std::cout << "  " << job.job_id << "\t" << job.customer_id << "\t" << job.kind << "\t"
                      << job.last_error_kind << "\t" << job.last_error_message << "\n";
        }
    } else {
        for (auto id : replayed) std::cout << "job " << id << " queued for replay\n";
        std::cout << replayed.size() << " job(s) replayed\n";
    }
    if (options.dry_run) return selected.empty() ? kExitNothing : kExitOk;
    return replayed.empty() ? kExitNothing : kExitOk;
}

int RejectedList(store::Store& store, const OpsOptions& options) {
    auto rows = Must(store.ListRejected(options.limit));
    if (!options.json) std::cout << "id\tsource\tevent_id\treason\n";
    for (const auto& r : rows) {
        if (options.json) {
            std::cout << json{{"id", r.id},
                              {"topic", r.origin.topic},
                              {"partition", r.origin.partition},
                              {"offset", r.origin.offset},
                              {"event_id", r.event_id},
                              {"reason", r.reason},
                              {"rejected_at_ms", r.rejected_at_ms}}
                             .dump()
                      << "\n";
        } else {
            std::cout << r.id << "\t" << r.origin.topic << "/" << r.origin.partition << "/"
                      << r.origin.offset << "\t" << r.event_id << "\t" << r.reason << "\n";
        }
    }
    return kExitOk;
}

int RejectedReplay(store::Store& store, const OpsOptions& options) {
    if (options.reason.empty())
        throw std::invalid_argument("rejected replay: --reason must not be empty");
    auto row = Must(store.LoadRejected(options.id));
    if (!row) {
        std::cerr << "kyc-bridge: no rejected event " << options.id << "\n";
        return kExitProblem;
    }
    if (row->payload.empty()) {
        std::cerr << "kyc-bridge: rejected event " << options.id
                  << " holds no payload any more (purged, or replayed before); it cannot be "
                     "replayed\n";
        return kExitProblem;
    }
    if (row->truncated) {
        std::cerr << "kyc-bridge: rejected event " << options.id
                  << " was stored truncated (over 64 KiB); it cannot be replayed\n";
        return kExitProblem;
    }
    auto event = events::ParseKycVerified(row->payload);
    if (!event) {
        std::cerr << "kyc-bridge: rejected event " << options.id
                  << " is still invalid: " << event.error().code << ": " << event.error().message
                  << "\n";
        return kExitProblem;
    }
    store::AcceptedEvent accepted{row->summary.origin, std::move(event.value())};
    const bool created =
        Must(store.IngestReplayed(accepted, options.id, Actor("rejected replay", options.reason)));
    if (options.json) {
        std::cout << json{{"id", options.id},
                          {"event_id", accepted.event.event_id},
                          {"ingested", created}}
                         .dump()
                  << "\n";
    } else if (created) {
        std::cout << "rejected event " << options.id << " is valid now: ingested as a new job\n";
    } else {
        std::cout << "rejected event " << options.id << ": event_id " << accepted.event.event_id
                  << " is already in the inbox; nothing ingested\n";
    }
    return created ? kExitOk : kExitNothing;
}

int Purge(store::Store& store, const OpsOptions& options) {
    if (options.older_than.empty()) throw std::invalid_argument("purge: --older-than is required");
    const auto age = ParseDuration(options.older_than);
    const auto cutoff = NowMs() - age.count();
    const std::string reason =
        "--older-than " + options.older_than + (options.reason.empty() ? "" : ": " + options.reason);
    auto summary = Must(store.Purge(cutoff, options.dry_run, Actor("purge", reason)));
    if (options.json) {
        std::cout << json{{"dry_run", options.dry_run},
                          {"older_than", options.older_than},
                          {"cutoff", FormatTime(cutoff)},
                          {"rejected", summary.rejected},
                          {"failed_jobs", summary.failed_jobs}}
                         .dump()
                  << "\n";
    } else {
        std::cout << (options.dry_run ? "would erase" : "erased")
                  << " the personal fields of " << summary.rejected << " rejected events and "
                  << summary.failed_jobs << " failed jobs from before " << FormatTime(cutoff)
                  << (options.dry_run ? " (dry run: nothing changed)" : "") << "\n";
    }
    return kExitOk;
}

int AuditList(store::Store& store, const OpsOptions& options) {
    const std::int64_t since =
        options.since.empty() ? 0 : NowMs() - ParseDuration(options.since).count();
    auto rows = Must(store.ListAudit(since, options.limit));
    if (!options.json) std::cout << "at\taction\tjob_id\tevent\tuser@host\treason\n";
    for (const auto& r : rows) {
        if (options.json) {
            std::cout << json{{"id", r.id},
                              {"at_ms", r.at_ms},
                              {"action", r.action},
                              {"job_id", r.job_id ? json(*r.job_id) : json(nullptr)},
                              {"event_ref", r.event_ref},
                              {"reason", r.reason},
                              {"os_user", r.os_user},
                              {"host", r.host}}
                             .dump()
                      << "\n";
        } else {
            std::cout << FormatTime(r.at_ms) << "\t" << r.action << "\t"
                      << (r.job_id ? std::to_string(*r.job_id) : "-") << "\t"
                      << (r.event_ref.empty() ? "-" : r.event_ref) << "\t" << r.os_user << "@"
                      << r.host << "\t" << r.reason << "\n";
        }
    }
    return kExitOk;
}

}  // namespace kyc_bridge::cli
