// SPDX-License-Identifier: Apache-2.0
// The metrics catalogue: scrape-time counters and gauges, and hook-fed histograms.
#include "ops_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdio>
#include <ctime>
#include <limits>

#ifndef KYC_BRIDGE_VERSION
#define KYC_BRIDGE_VERSION "unknown"
#endif

namespace kyc_bridge::app {

using observe::MetricType;
using observe::Sample;

std::optional<std::int64_t> ParseRfc3339Millis(std::string_view text) {
    std::string s(text);
    int y, mo, d, h, mi, sec, n = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                    &n) != 6) {
        return std::nullopt;
    }
    std::size_t i = static_cast<std::size_t>(n);
    double fraction = 0;
    if (i < s.size() && s[i] == '.') {
        double scale = 0.1;
        for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10) {
            fraction += (s[i] - '0') * scale;
        }
    }
    int offset_minutes = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        int oh = 0, om = 0;
        if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
        offset_minutes = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    } else if (i >= s.size() || (s[i] != 'Z' && s[i] != 'z')) {
        return std::nullopt;
    }
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    const std::int64_t seconds = static_cast<std::int64_t>(timegm(&tm)) - offset_minutes * 60;
    return seconds * 1000 + static_cast<std::int64_t>(fraction * 1000);
}

struct HookedMetrics::Families {
    Families(prometheus::Registry& r)
        : commit(prometheus::BuildHistogram()
                     .Name("kyc_bridge_store_commit_duration_seconds")
                     .Help("Group-commit write transactions, BEGIN to COMMIT (fsync included)")
                     .Register(r)),
          request_duration(prometheus::BuildHistogram()
                               .Name("kyc_bridge_auth0_request_duration_seconds")
                               .Help("Auth0 HTTP requests, sent to answered, by route")
                               .Register(r)),
          requests(prometheus::BuildCounter()
                       .Name("kyc_bridge_auth0_requests_total")
                       .Help("Auth0 HTTP requests by route and status code (or transport_error)")
                       .Register(r)),
          latency(prometheus::BuildHistogram()
                      .Name("kyc_bridge_provisioning_latency_seconds")
                      .Help("From the event's occurred_at to its job done")
                      .Register(r)),
          consumed(prometheus::BuildCounter()
                       .Name("kyc_bridge_events_consumed_total")
                       .Help("Input events by what the inbox did with them")
                       .Register(r)),
          dead_letters(prometheus::BuildCounter()
                           .Name("kyc_bridge_dead_letters_total")
                           .Help("Rejected input events (dead-lettered) by rejection code")
                           .Register(r)) {}

    prometheus::Family<prometheus::Histogram>& commit;
    prometheus::Family<prometheus::Histogram>& request_duration;
    prometheus::Family<prometheus::Counter>& requests;
    prometheus::Family<prometheus::Histogram>& latency;
    prometheus::Family<prometheus::Counter>& consumed;
    prometheus::Family<prometheus::Counter>& dead_letters;
    std::string topic;
};

namespace {
const prometheus::Histogram::BucketBoundaries kCommitBuckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
const prometheus::Histogram::BucketBoundaries kRequestBuckets{0.01, 0.025, 0.05, 0.1, 0.25,
                                                              0.5,  1,     2.5,  5,   10};
const prometheus::Histogram::BucketBoundaries kLatencyBuckets{0.1, 0.25, 0.5, 1,   2.5, 5,
                                                              10,  30,   60,  300, 900, 3600};
}  // namespace

HookedMetrics::HookedMetrics(observe::MetricsServer& server, std::string input_topic)
    : families_(std::make_unique<Families>(server.registry())) {
    families_->topic = std::move(input_topic);
    // Present from the first scrape, before any event.
    for (const char* result : {"accepted", "duplicate", "rejected"}) {
        families_->consumed.Add({{"topic", families_->topic}, {"result", result}});
    }
    families_->commit.Add({}, kCommitBuckets);
    families_->latency.Add({}, kLatencyBuckets);
}

HookedMetrics::~HookedMetrics() = default;

void HookedMetrics::StoreCommitted(std::chrono::microseconds took) {
    families_->commit.Add({}, kCommitBuckets).Observe(static_cast<double>(took.count()) / 1e6);
}

void HookedMetrics::Auth0Request(std::string_view route, std::string_view code, double seconds) {
    const std::string r(route);
    families_->requests.Add({{"endpoint", r}, {"code", std::string(code)}}).Increment();
    families_->request_duration.Add({{"endpoint", r}}, kRequestBuckets).Observe(seconds);
}

void HookedMetrics::JobDone(const provision::Job& job) {
    auto occurred = ParseRfc3339Millis(job.event.occurred_at);
    if (!occurred) return;
    const auto now = core::ToUnixMillis(std::chrono::system_clock::now());
    const double seconds = static_cast<double>(std::max<std::int64_t>(now - *occurred, 0)) / 1e3;
    families_->latency.Add({}, kLatencyBuckets).Observe(seconds);
}

void HookedMetrics::Consumed(const store::IngestSummary& summary,
                             const std::vector<store::RejectedEvent>& rejected) {
    auto add = [&](const char* result, int count) {
        if (count > 0) {
            families_->consumed.Add({{"topic", families_->topic}, {"result", result}})
                .Increment(count);
        }
    };
    add("accepted", summary.accepted);
    add("duplicate", summary.duplicates);
    add("rejected", summary.rejected);
    // The reason is "code: message": only the fixed code is a label, never the message.
    for (const auto& r : rejected) {
        const auto code = r.reason.substr(0, r.reason.find(':'));
        families_->dead_letters.Add({{"reason", code.empty() ? "unknown" : code}}).Increment();
    }
}

namespace {

struct Out {
    std::vector<Sample>& out;
    void Counter(const char* name, const char* help, std::map<std::string, std::string> labels,
                 double value) {
        out.push_back({name, help, MetricType::kCounter, std::move(labels), value});
    }
    void Gauge(const char* name, const char* help, double value,
               std::map<std::string, std::string> labels = {}) {
        out.push_back({name, help, MetricType::kGauge, std::move(labels), value});
    }
};

// Names kept from before issue #8 (tests, dashboards): kyc_bridge_events_total,
// kyc_bridge_jobs_total{outcome=done|retried|parked}, kyc_bridge_ready and the rest below.
void LegacySamples(Out& o, const MetricInputs& in) {
    const auto& ingested = in.ingested;
    const auto& jobs = in.jobs;
    const char* events = "Input events by what the inbox did with them (see events_consumed)";
    o.Counter("kyc_bridge_events_total", events, {{"result", "accepted"}},
              double(ingested.accepted));
    o.Counter("kyc_bridge_events_total", events, {{"result", "duplicate"}},
              double(ingested.duplicates));
    o.Counter("kyc_bridge_events_total", events, {{"result", "rejected"}},
              double(ingested.rejected));
    o.Gauge("kyc_bridge_jobs_in_flight", "Jobs running now", double(jobs.in_flight));
    o.Gauge("kyc_bridge_provisioning_quarantined", "Same as kyc_bridge_quarantined",
            jobs.quarantined ? 1.0 : 0.0);
    o.Gauge("kyc_bridge_ready",
            "1 when the store accepts writes and provisioning is not quarantined",
            ingested.store_writable && !jobs.quarantined ? 1.0 : 0.0);
    o.Counter("kyc_bridge_store_errors_total", "Failed SQLite operations", {},
              double(ingested.store_errors + jobs.store_errors + in.outbox.store_errors));
    o.Gauge("kyc_bridge_outbox_backlog", "Same as kyc_bridge_outbox_pending",
            double(in.outbox.backlog));
    o.Counter("kyc_bridge_auth0_rate_limited_total", "Auth0 answers with status 429", {},
              double(in.auth0.rate_limited));
    o.Counter("kyc_bridge_auth0_token_fetches_total", "M2M token fetches attempted", {},
              double(in.auth0.token_fetches));
    o.Counter("kyc_bridge_password_emails_uncertain_total",
              "Password emails whose effect was unknown: found in `sending` after a crash "
              "(repeated) or a call without an answer (taken as sent)",
              {}, double(in.runner.password_emails_uncertain));
    o.Counter("kyc_bridge_password_emails_sent_total", "change_password calls that succeeded", {},
              double(in.runner.password_emails_sent));
    o.Counter("kyc_bridge_retries_rate_limited_total",
              "Job attempts that met a 429 (no attempt spent)", {}, double(jobs.rate_limited));
    o.Counter("kyc_bridge_role_batches_total", "POST /api/v2/roles/{id}/users calls", {},
              double(in.role_batches.batches));
    o.Counter("kyc_bridge_role_batch_users_total", "Users assigned a role in batches", {},
              double(in.role_batches.users_batched));
    o.Counter("kyc_bridge_role_batch_fallbacks_total", "Role batches split into per-user calls", {},
              double(in.role_batches.fallbacks));
    o.Counter("kyc_bridge_outbox_set_aside_total",
              "Outbox rows set aside because Kafka refused them for good", {},
              double(in.outbox.set_aside));
    o.Counter("kyc_bridge_store_transactions_total", "Group-committed write transactions", {},
              double(in.store.stats().transactions_committed));
    o.Counter("kyc_bridge_store_records_total", "Records written in them", {},
              double(in.store.stats().records_committed));
    o.Counter("kyc_bridge_store_commit_seconds_total", "Time spent in write transactions", {},
              double(in.store.stats().commit_micros_total) / 1e6);
}

void JobSamples(Out& o, const MetricInputs& in) {
    const auto& jobs = in.jobs;
    const char* outcomes =
        "Finished jobs by outcome (created|existing|updated|failed); "
        "done, retried and parked are kept from before";
    o.Counter("kyc_bridge_jobs_total", outcomes, {{"outcome", "created"}},
              double(jobs.jobs_created));
    o.Counter("kyc_bridge_jobs_total", outcomes, {{"outcome", "existing"}},
              double(jobs.jobs_existing));
    o.Counter("kyc_bridge_jobs_total", outcomes, {{"outcome", "updated"}},
              double(jobs.jobs_updated));
    o.Counter("kyc_bridge_jobs_total", outcomes, {{"outcome", "failed"}}, double(jobs.jobs_failed));
    o.Counter("kyc_bridge_jobs_total", outcomes, {{"outcome", "done"}}, double(jobs.jobs_done));
    o.Counter("kyc_bridge_jobs_total", outcomes, {{"outcome", "retried"}},
              double(jobs.attempts_failed));
    o.Counter("kyc_bridge_jobs_total", outcomes, {{"outcome", "parked"}}, double(jobs.jobs_parked));
    for (auto kind : {core::ErrorKind::kTransient, core::ErrorKind::kRateLimited,
                      core::ErrorKind::kUnauthorized, core::ErrorKind::kConfiguration,
                      core::ErrorKind::kPermanent, core::ErrorKind::kConflict}) {
        o.Counter("kyc_bridge_retries_total", "Job attempts retried, by failure class",
                  {{"kind", std::string(core::ToString(kind))}},
                  double(jobs.retries_by_kind[static_cast<std::size_t>(kind)]));
    }
    const auto now_ms = core::ToUnixMillis(std::chrono::system_clock::now());
    const auto since = jobs.quarantined_since_ms.load();
    o.Gauge("kyc_bridge_quarantined",
            "1 while Auth0 refuses the configuration and provisioning "
            "is paused",
            jobs.quarantined ? 1.0 : 0.0);
    o.Counter("kyc_bridge_quarantine_seconds_total", "Time spent quarantined", {},
              double(jobs.quarantine_ms_total + (since > 0 ? now_ms - since : 0)) / 1e3);
}

void Auth0Samples(Out& o, const MetricInputs& in) {
    const auto& a = in.auth0;
    o.Counter("kyc_bridge_auth0_requests_sent_total", "HTTP requests sent to Auth0 (all routes)",
              {}, double(a.requests));
    if (a.rate_limit_remaining >= 0) {
        o.Gauge("kyc_bridge_auth0_rate_limit_remaining",
                "x-ratelimit-remaining of the latest Management API answer",
                double(a.rate_limit_remaining));
    } else {
        o.Gauge("kyc_bridge_auth0_rate_limit_remaining",
                "x-ratelimit-remaining of the latest Management API answer (NaN: none yet)",
                std::numeric_limits<double>::quiet_NaN());
    }
    o.Counter("kyc_bridge_auth0_throttled_seconds_total",
              "Time requests waited in the pacer for the rate-limit budget", {},
              double(in.pacer.wait_ms_total) / 1e3);
    const char* fetches = "POST /oauth/token fetches by result";
    o.Counter("kyc_bridge_token_fetches_total", fetches, {{"result", "ok"}},
              double(a.token_fetches - a.token_fetch_failures));
    o.Counter("kyc_bridge_token_fetches_total", fetches, {{"result", "failed"}},
              double(a.token_fetch_failures));
    o.Gauge("kyc_bridge_token_expiry_timestamp_seconds",
            "When the latest Management API token expires (UNIX s; 0: none yet)",
            double(a.token_expires_unix));
}

void OutboxSamples(Out& o, const MetricInputs& in, std::int64_t now_ms) {
    o.Gauge("kyc_bridge_outbox_pending", "Outbox rows not yet delivered (set-aside excluded)",
            double(in.outbox.backlog));
    for (const auto& [topic, count] : in.outbox.PublishedByTopic()) {
        o.Counter("kyc_bridge_outbox_published_total", "Outbox rows delivered to Kafka, by topic",
                  {{"topic", topic}}, double(count));
    }
    auto oldest = in.store.OldestUnsentOutboxCreatedAtMs();
    o.Gauge("kyc_bridge_outbox_oldest_age_seconds", "Age of the oldest undelivered outbox row",
            oldest && *oldest ? double(now_ms - **oldest) / 1e3 : 0.0);
}

void StoreSamples(Out& o, const MetricInputs& in, std::int64_t now_ms) {
    if (auto counts = in.store.CountJobsByState()) {
        for (const auto& [state, count] : *counts) {
            o.Gauge("kyc_bridge_jobs", "Jobs in the store by state", double(count),
                    {{"state", state}});
        }
    }
    auto oldest = in.store.OldestPendingCreatedAtMs();
    o.Gauge("kyc_bridge_oldest_pending_job_age_seconds", "Age of the oldest pending job (0: none)",
            oldest && *oldest ? double(now_ms - **oldest) / 1e3 : 0.0);
}

void KafkaSamples(Out& o, const MetricInputs& in) {
    auto consumer = in.consumer.Get();
    if (!consumer) return;
    for (const auto& [partition, lag] : consumer->ConsumerLag()) {
        o.Gauge("kyc_bridge_consumer_lag", "Input messages behind the high watermark (librdkafka)",
                double(lag), {{"partition", std::to_string(partition)}});
    }
}

}  // namespace

void AddMetricSources(observe::MetricsServer& metrics, MetricInputs in) {
    // `in` is copied into the source (it holds references to objects that outlive the server).
    metrics.AddSource([in](std::vector<Sample>& out) {
        Out o{out};
        const auto now_ms = core::ToUnixMillis(std::chrono::system_clock::now());
        LegacySamples(o, in);
        JobSamples(o, in);
        Auth0Samples(o, in);
        OutboxSamples(o, in, now_ms);
        StoreSamples(o, in, now_ms);
        KafkaSamples(o, in);
        o.Gauge("kyc_bridge_build_info", "Always 1; the version as a label", 1.0,
                {{"version", KYC_BRIDGE_VERSION}});
    });
}

}  // namespace kyc_bridge::app
