// SPDX-License-Identifier: Apache-2.0
// The reading verbs: status, jobs list, failed list and show, outbox set-aside.
#include <iostream>
#include <nlohmann/json.hpp>

#include "ops_verbs.hpp"

namespace kyc_bridge::cli {

namespace {

using nlohmann::json;

json JobJson(const store::JobSummary& j) {
    return {{"job_id", j.job_id},
            {"event_id", j.event_id},
            {"customer_id", j.customer_id},
            {"kind", j.kind},
            {"state", j.state},
            {"outcome", j.outcome},
            {"attempts", j.attempts},
            {"error_class", j.last_error_kind},
            {"last_error", j.last_error},
            {"created_at_ms", j.created_at_ms},
            {"updated_at_ms", j.updated_at_ms}};
}

void PrintJobs(const std::vector<store::JobSummary>& jobs, bool as_json) {
    if (!as_json)
        // kind and outcome (#10) come last: scripts cut the older columns by position.
        std::cout << "job_id\tcustomer_id\tstate\tattempts\tclass\tat\tlast_error\tkind\toutcome\n";
    for (const auto& j : jobs) {
        if (as_json) {
            std::cout << JobJson(j).dump() << "\n";
        } else {
            std::cout << j.job_id << "\t" << j.customer_id << "\t" << j.state << "\t" << j.attempts
                      << "\t" << (j.last_error_kind.empty() ? "-" : j.last_error_kind) << "\t"
                      << FormatTime(j.updated_at_ms) << "\t" << j.last_error_message << "\t"
                      << j.kind << "\t" << (j.outcome.empty() ? "-" : j.outcome) << "\n";
        }
    }
}

// The daemon records "quarantine" as "" (not quarantined) or the reason.
json QuarantineJson(const std::optional<store::DaemonStateValue>& state) {
    if (!state) return {{"state", "unknown"}};
    if (state->value.empty()) return {{"state", "no"}, {"since_ms", state->updated_at_ms}};
    return {{"state", "yes"}, {"reason", state->value}, {"since_ms", state->updated_at_ms}};
}

}  // namespace

int Status(store::Store& store, const OpsOptions& options) {
    const auto now = NowMs();
    json status = json::object();
    json counts = json::object();
    for (const auto& [state, count] : Must(store.CountJobsByState())) counts[state] = count;
    status["jobs"] = counts;
    auto oldest = Must(store.OldestPendingCreatedAtMs());
    status["oldest_pending_age_s"] = oldest ? json((now - *oldest) / 1000.0) : json(nullptr);
    auto oldest_outbox = Must(store.OldestUnsentOutboxCreatedAtMs());
    status["outbox"] = {{"unsent", Must(store.CountUnsentOutbox())},
                        {"set_aside", Must(store.CountSetAside())},
                        {"oldest_unsent_age_s",
                         oldest_outbox ? json((now - *oldest_outbox) / 1000.0) : json(nullptr)}};
    status["quarantine"] = QuarantineJson(Must(store.GetDaemonState("quarantine")));
    json errors = json::array();
    for (const auto& e : Must(store.LastErrorsByKind())) {
        errors.push_back(
            {{"class", e.kind}, {"message", e.message}, {"job_id", e.job_id}, {"at_ms", e.at_ms}});
    }
    status["last_errors"] = errors;
    if (options.json) {
        std::cout << status.dump() << "\n";
        return kExitOk;
    }
    std::cout << "jobs:";
    for (const auto& [state, count] : counts.items()) std::cout << " " << state << "=" << count;
    std::cout << "\noldest pending: "
              << (oldest ? std::to_string((now - *oldest) / 1000) + " s ago" : std::string("none"))
              << "\noutbox: " << status["outbox"]["unsent"] << " unsent, "
              << status["outbox"]["set_aside"]
              << " set aside\nquarantined: " << status["quarantine"]["state"].get<std::string>();
    if (status["quarantine"].contains("reason")) {
        std::cout << " (" << status["quarantine"]["reason"].get<std::string>() << ", since "
                  << FormatTime(status["quarantine"]["since_ms"]) << ")";
    }
    std::cout << "\nlast error of each class:" << (errors.empty() ? " none" : "") << "\n";
    for (const auto& e : errors) {
        std::cout << "  " << e["class"].get<std::string>() << "\t" << FormatTime(e["at_ms"])
                  << "\tjob " << e["job_id"] << "\t" << e["message"].get<std::string>() << "\n";
    }
    return kExitOk;
}

int JobsList(store::Store& store, const OpsOptions& options) {
    auto jobs = Must(store.ListJobs(options.state, options.limit));
    if (options.json) {
        // The older listing's fields, kept for scripts that read them, and the job's kind,
        // outcome and error class (#10) added.
        for (const auto& j : jobs) {
            std::cout << json{{"job_id", j.job_id},
                              {"event_id", j.event_id},
                              {"customer_id", j.customer_id},
                              {"kind", j.kind},
                              {"state", j.state},
                              {"outcome", j.outcome},
                              {"attempts", j.attempts},
                              {"error_class", j.last_error_kind},
                              {"last_error", j.last_error},
                              {"updated_at_ms", j.updated_at_ms}}
                             .dump()
                      << "\n";
        }
        return kExitOk;
    }
    PrintJobs(jobs, false);
    return kExitOk;
}

store::FailedFilter FilterFrom(const OpsOptions& options, std::size_t limit) {
    store::FailedFilter filter;
    if (!options.since.empty()) filter.since_ms = NowMs() - ParseDuration(options.since).count();
    filter.error_class = options.error_class;
    filter.customer_id = options.customer;
    filter.limit = limit;
    return filter;
}

int FailedList(store::Store& store, const OpsOptions& options) {
    PrintJobs(Must(store.ListFailedJobs(FilterFrom(options, options.limit))), options.json);
    return kExitOk;
}

int FailedShow(store::Store& store, const OpsOptions& options) {
    auto detail = Must(store.LoadJobDetail(options.id));
    if (!detail) {
        std::cerr << "kyc-bridge: no job " << options.id << "\n";
        return kExitProblem;
    }
    json out = JobJson(detail->job);
    out["conflict_attempts"] = detail->conflict_attempts;
    out["profile_applied"] = detail->profile_applied;
    out["next_attempt_at_ms"] = detail->next_attempt_at_ms;
    json steps = nullptr;
    if (const auto& a = detail->account) {
        steps = {{"auth0_user_id", a->auth0_user_id},
                 {"outcome", a->outcome},
                 {"roles_assigned", a->roles_assigned},
                 {"password_email_sending", a->password_email_sending},
                 {"password_email_sent", a->password_setup_sent},
                 {"published", a->published}};
    }
    out["steps"] = steps;
    json attempts = json::array();
    for (const auto& a : detail->attempts) {
        attempts.push_back({{"attempt", a.attempt},
                            {"class", a.kind},
                            {"code", a.code},
                            {"message", a.message},
                            {"at_ms", a.at_ms}});
    }
    out["attempt_errors"] = attempts;
    if (options.json) {
        std::cout << out.dump() << "\n";
        return kExitOk;
    }
    const auto& j = detail->job;
    std::cout << j.kind << " job " << j.job_id << " (" << j.state
              << (j.outcome.empty() ? "" : ", " + j.outcome) << "), customer " << j.customer_id
              << ", event " << j.event_id << "\n  created " << FormatTime(j.created_at_ms)
              << ", updated " << FormatTime(j.updated_at_ms) << ", attempts " << j.attempts
              << " (conflicts " << detail->conflict_attempts
              << ")\n  last error: " << (j.last_error.empty() ? "-" : j.last_error) << "\nsteps:";
    if (steps.is_null()) {
        std::cout << " none recorded\n";
    } else {
        std::cout << "\n";
        for (const auto& [name, value] : steps.items())
            std::cout << "  " << name << ": " << value << "\n";
    }
    std::cout << "attempts:" << (attempts.empty() ? " none recorded" : "") << "\n";
    for (const auto& a : detail->attempts) {
        std::cout << "  #" << a.attempt << "\t" << FormatTime(a.at_ms) << "\t" << a.kind << "\t"
                  << a.code << "\t" << a.message << "\n";
    }
    return kExitOk;
}

int SetAsideList(store::Store& store, const OpsOptions& options) {
    auto rows = Must(store.ListSetAside(options.limit));
    if (!options.json) std::cout << "seq\tevent_id\ttopic\treason\n";
    for (const auto& row : rows) {
        if (options.json) {
            std::cout << json{{"seq", row.seq},
                              {"event_id", row.event_id},
                              {"topic", row.topic},
                              {"reason", row.reason},
                              {"set_aside_at_ms", row.set_aside_at_ms}}
                             .dump()
                      << "\n";
        } else {
            std::cout << row.seq << "\t" << row.event_id << "\t" << row.topic << "\t" << row.reason
                      << "\n";
        }
    }
    return kExitOk;
}

}  // namespace kyc_bridge::cli
