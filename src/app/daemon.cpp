// SPDX-License-Identifier: Apache-2.0
// Start-up in dependency order, the consumer loop, and shutdown in reverse.
#include "kyc_bridge/app/daemon.hpp"

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string_view>

#include "kafka_adapters.hpp"
#include "ops_metrics.hpp"
#include "service_notifier.hpp"
#include "kyc_bridge/auth0/management_client.hpp"
#include "kyc_bridge/core/log_limiter.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "kyc_bridge/core/timers.hpp"
#include "kyc_bridge/observe/metrics_server.hpp"
#include "kyc_bridge/provision/provisioner.hpp"
#include "kyc_bridge/provision/role_batcher.hpp"
#include "kyc_bridge/relay/relay.hpp"
#include "kyc_bridge/store/store.hpp"

namespace kyc_bridge::app {
namespace {

using namespace std::chrono_literals;

auth0::ClientSettings Auth0Settings(const config::Auth0Config& c) {
    auth0::ClientSettings s;
    s.base_url = c.base_url;
    s.client_id = c.client_id;
    s.client_secret = c.client_secret;
    s.audience = c.audience;
    s.connect_timeout_ms = c.connect_timeout_ms;
    s.request_timeout_ms = c.request_timeout_ms;
    s.allow_insecure_http = c.allow_insecure_http;
    s.ca_file = c.ca_file;
    if (c.max_requests_per_second > 0) s.max_requests_per_second = c.max_requests_per_second;
    return s;
}

store::StoreOptions StoreOptionsOf(const config::StoreConfig& c) {
    store::StoreOptions o;
    o.commit_interval = std::chrono::milliseconds{c.commit_interval_ms};
    o.commit_max_records = static_cast<std::size_t>(c.commit_max_records);
    o.strict_modes = c.strict_modes;
    return o;
}

provision::RetrySettings RetrySettingsOf(const config::RetryConfig& c) {
    provision::RetrySettings s;
    s.initial_backoff = std::chrono::milliseconds{c.initial_backoff_ms};
    s.max_backoff = std::chrono::milliseconds{c.max_backoff_ms};
    s.max_attempts = c.max_attempts;
    s.max_age = std::chrono::seconds{c.max_age_s};
    s.conflict_max_attempts = c.conflict_max_attempts;
    return s;
}

// Writes the embedded cluster's bootstrap address next to the store, for kcat and the demo.
void PublishBootstrap(const std::string& store_path, const std::string& bootstrap) {
    auto dir = std::filesystem::path(store_path).parent_path();
    if (dir.empty()) dir = ".";
    std::filesystem::create_directories(dir);
    auto tmp = dir / "kafka-bootstrap.txt.tmp";
    std::ofstream(tmp) << bootstrap << "\n";
    std::filesystem::rename(tmp, dir / "kafka-bootstrap.txt");
}

// Erases the personal fields of done jobs whose events are sent, keep_personal_data_s after
// they finished: one bounded sweep at a time, queued on the store's writer, from the consumer
// loop. Sweeps often enough that the default (0) means "within about a second".
class PersonalDataEraser {
public:
    PersonalDataEraser(store::Store& store, std::chrono::seconds keep) : store_(store), keep_(keep) {}
    ~PersonalDataEraser() {
        std::unique_lock lock(mutex_);
        idle_.wait(lock, [this] { return !running_; });  // the callback refers to this object
    }

    void MaybeSweep(core::TimePoint now) {
        std::lock_guard lock(mutex_);
        if (running_ || now < next_) return;
        running_ = true;
        next_ = now + kInterval;
        store_.ErasePersonalData(
            core::ToUnixMillis(now - keep_), kBatch, [this](core::Result<std::int64_t> erased) {
                std::lock_guard lock(mutex_);
                running_ = false;
                // A full sweep: more are waiting, go on at the next turn of the loop.
                if (erased && *erased == static_cast<std::int64_t>(kBatch)) next_ = {};
                if (!erased) {
                    core::LogLimited(*core::Logger("store"), spdlog::level::warn,
                                     "erase_failed/" + erased.error().code,
                                     "event=personal_data_erase_failed error=\"{}\"",
                                     erased.error().message);
                }
                idle_.notify_all();
            });
    }

private:
    static constexpr std::chrono::seconds kInterval{1};
    static constexpr std::size_t kBatch = 2000;
    store::Store& store_;
    const std::chrono::seconds keep_;
    std::mutex mutex_;
    std::condition_variable idle_;
    bool running_ = false;
    core::TimePoint next_{};
};

// What stops the daemon for good, or empty: a store error no retry heals, or a fatal Kafka
// client error (e.g. the idempotent producer's, after which it cannot produce any more).
std::string FatalProblem(store::Store& store,
                         const std::shared_ptr<const kafka::ClientStatus>& consumer,
                         const std::shared_ptr<const kafka::ClientStatus>& producer) {
    if (int code = store.stats().unrecoverable_code.load(); code != 0) {
        return "the store " + store.path() + " failed with SQLite extended code " +
               std::to_string(code) + " (" + store::DescribeSqliteCode(code) +
               "), which retrying cannot heal; " + store::HintForSqliteCode(code);
    }
    if (producer && producer->Fatal()) {
        return "the Kafka producer hit a fatal error (see the kafka log line before); a restart "
               "creates a new producer, and the outbox resends what was not acknowledged";
    }
    if (consumer && consumer->Fatal()) {
        return "the Kafka consumer hit a fatal error (see the kafka log line before); a restart "
               "rejoins the group from the committed offsets";
    }
    return {};
}

}  // namespace

Daemon::Daemon(config::Config config, Mode mode) : config_(std::move(config)), mode_(mode) {}

namespace {

/// How many jobs the store holds in `state`; -1 if the count cannot be read.
std::int64_t JobsInState(store::Store& store, std::string_view state) {
    auto counts = store.CountJobsByState();
    if (!counts) return -1;
    for (const auto& [name, count] : *counts) {
        if (name == state) return count;
    }
    return 0;
}

/// Nothing left for a draining instance: no job pending and no outbox row unsent. Failed jobs
/// and set-aside rows stay for an operator; the caller logs how many.
bool Drained(store::Store& store) {
    auto unsent = store.CountUnsentOutbox();
    return JobsInState(store, "pending") == 0 && unsent && *unsent == 0;
}

std::int64_t SetAsideRows(store::Store& store) {
    auto rows = store.CountSetAside();
    return rows ? *rows : -1;  // -1: the count could not be read (logged as such)
}

}  // namespace

void Daemon::RequestStop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
}

// Role names → ids once at start-up. Outages are waited out (a deploy during an Auth0 incident
// should not crash-loop); a role that does not exist is a configuration error. A configuration
// failure that can heal (a certificate that does not verify, a name that does not resolve,
// refused credentials) is a quarantine before the first job: /readyz names it, `kyc-bridge
// status` shows it, and it is logged once a minute; no event is consumed, so no job spends an
// attempt.
static std::vector<std::string> ResolveRoles(auth0::Auth0Api& api,
                                             const std::vector<std::string>& names,
                                             const std::atomic<bool>& stop,
                                             observe::MetricsServer& metrics, store::Store& store,
                                             const core::Clock& clock, ServiceNotifier& notifier) {
    auto log = core::Logger("app");
    core::LogLimiter once_a_minute(clock, std::chrono::minutes{1});
    auto delay = 500ms;
    bool quarantined = false;
    while (!stop) {
        auto ids = auth0::ResolveRoleIds(api, names);
        if (ids) {
            // Also clears what an earlier run left: `status` must not show a healed quarantine.
            store.SetDaemonState("quarantine", "", [](core::Status) {});
            if (quarantined) log->info("event=quarantine_lifted");
            return *ids;
        }
        const auto& e = ids.error();
        if (e.kind == core::ErrorKind::kPermanent ||
            (e.kind == core::ErrorKind::kConfiguration && e.code == "role_not_found")) {
            throw config::ConfigError("auth0.roles", e.message);
        }
        if (e.kind == core::ErrorKind::kConfiguration) {
            const std::string reason = "auth0_" + e.code;
            metrics.SetReadiness([reason] {
                return observe::CheckReadiness(
                    {{"starting", [] { return false; }}, {reason, [] { return false; }}});
            });
            if (!quarantined) store.SetDaemonState("quarantine", e.code + ": " + e.message,
                                                   [](core::Status) {});
            quarantined = true;
            notifier.NotReady("not ready: starting, " + reason);
        }
        if (e.kind != core::ErrorKind::kConfiguration || once_a_minute.Admit(e.code)) {
            log->error("event={} kind={} code={} error=\"{}\" retry_in_ms={}",
                       e.kind == core::ErrorKind::kConfiguration ? "quarantine"
                                                                 : "role_resolution_failed",
                       core::ToString(e.kind), e.code, e.message, delay.count());
        }
        // In steps: SIGTERM during a start-up quarantine must not wait out a 30 s delay.
        for (auto left = delay; left.count() > 0 && !stop; left -= 100ms) {
            std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(left, 100ms));
            notifier.Watchdog(true, std::chrono::steady_clock::now());  // waiting, not wedged
        }
        delay = std::min(delay * 2, std::chrono::milliseconds{30s});
    }
    return {};
}

int Daemon::Run() {
    auto log = core::Logger("app");
    core::SystemClock clock;
    const auto& kc = config_.kafka;
    ServiceNotifier notifier;
    notifier.NotReady("not ready: starting");

    // First, so that probes answer from the first second: /readyz says "starting" until the
    // consumer runs.
    observe::MetricsServer metrics(config_.http.listen);
    log->info("event=metrics_listening listen={} port={} paths=/metrics,/healthz,/readyz",
              config_.http.listen, metrics.port());
    HookedMetrics hooked(metrics, kc.input_topic);

    std::unique_ptr<store::Store> store;
    try {
        auto store_options = StoreOptionsOf(config_.store);
        store_options.on_commit = [&hooked](auto took) { hooked.StoreCommitted(took); };
        store = std::make_unique<store::Store>(
            config_.store.path, std::chrono::milliseconds{config_.store.busy_timeout_ms}, clock,
            store_options);
    } catch (const store::StoreError& e) {
        throw StartupError(std::string("store.path: ") + e.what());
    }

    std::unique_ptr<kafka::EmbeddedCluster> embedded;
    kafka::Settings kafka_settings{kc.brokers, kc.group_id, kc.properties};
    if (kc.brokers == "embedded") {
        embedded = std::make_unique<kafka::EmbeddedCluster>(
            1, std::vector<kafka::TopicSpec>{{kc.input_topic, kc.embedded_partitions},
                                             {kc.output_topic, kc.embedded_partitions},
                                             {kc.dead_letter_topic, kc.embedded_partitions},
                                             {kc.revoked_topic, kc.embedded_partitions},
                                             {kc.blocked_topic, kc.embedded_partitions}});
        kafka_settings.brokers = embedded->bootstrap_servers();
        PublishBootstrap(config_.store.path, kafka_settings.brokers);
        log->info("event=embedded_kafka_started bootstrap={} hint=\"kcat -b {} -t {} -P\"",
                  kafka_settings.brokers, kafka_settings.brokers, kc.input_topic);
    }

    auto auth0_settings = Auth0Settings(config_.auth0);
    // One connection per job in flight at most; HTTP/2 multiplexes them where Auth0 offers it.
    auth0_settings.max_connections = config_.provision.concurrency;
    auth0::HttpAuth0Api api(auth0_settings, clock);
    api.OnRequest([&hooked](std::string_view route, std::string_view code, double seconds) {
        hooked.Auth0Request(route, code, seconds);
    });
    auto role_ids =
        ResolveRoles(api, config_.auth0.roles, stop_, metrics, *store, clock, notifier);
    if (stop_) {
        notifier.Stopping();
        return 0;
    }
    log->info("event=roles_resolved count={}", role_ids.size());

    provision::RunnerSettings runner_settings;
    runner_settings.connection = config_.auth0.connection;
    runner_settings.role_names = config_.auth0.roles;
    runner_settings.role_ids = role_ids;
    runner_settings.password_setup = provision::ParsePasswordSetup(config_.auth0.password_setup);
    runner_settings.email_client_id = config_.auth0.email_client_id;
    runner_settings.output_topic = kc.output_topic;
    runner_settings.max_emails_in_flight = config_.provision.max_emails_in_flight;
    runner_settings.blocked_topic = kc.blocked_topic;
    runner_settings.remove_roles_on_revoke = config_.deprovision.remove_roles;
    runner_settings.publish_not_found = config_.deprovision.publish_not_found;
    core::TimerThread timers;
    provision::RoleBatchSettings batch_settings;
    batch_settings.max_users = static_cast<std::size_t>(config_.provision.role_batch_size);
    batch_settings.wait = std::chrono::milliseconds{config_.provision.role_batch_wait_ms};
    provision::RoleBatcher batcher(api, role_ids, batch_settings, timers, clock);
    provision::PerUserRoleAssigner per_user(api, role_ids);
    provision::RoleAssigner& roles =
        config_.provision.role_batch_size > 1 ? static_cast<provision::RoleAssigner&>(batcher)
                                              : per_user;
    provision::JobRunner runner(api, *store, clock, runner_settings, &roles);
    provision::RetryPolicy retry(RetrySettingsOf(config_.retry));
    provision::ProvisionerSettings provisioner_settings;
    provisioner_settings.concurrency = config_.provision.concurrency;
    provision::Provisioner provisioner(api, *store, runner, retry, clock, provisioner_settings);

    kafka::Producer producer(kafka_settings);
    ProducerSink sink(producer);
    relay::Relay relay(*store, sink);
    provisioner.OnJobDone([&relay] { relay.Wake(); });
    // Queued, never waited for: the hook may run on the store's writer thread.
    provisioner.OnQuarantineChange([&store](const std::string& cause) {
        store->SetDaemonState("quarantine", cause, [](core::Status) {});
    });
    provisioner.OnJobOutcome(
        [&hooked](const provision::Job& job, const provision::RunEnd&) { hooked.JobDone(job); });

    IngestCounters ingested;
    StatusSlot consumer_status;
    observe::Heartbeat consumer_beat;
    std::atomic<bool> consuming{false};
    AddMetricSources(metrics, {ingested, provisioner.stats(), runner.stats(), batcher.stats(),
                               relay.stats(), api.stats(), api.pacer_stats(), *store,
                               consumer_status});
    // Declared after everything the sources and probes read: detached before those go.
    struct Detach {
        observe::MetricsServer& metrics;
        ~Detach() { metrics.Detach(); }
    } detach{metrics};
    const ProbeInputs probe_inputs{clock, consuming, consumer_beat, consumer_status,
                                   producer.status(), provisioner.stats(), relay.stats(),
                                   api.stats(), *store, ingested, stop_,
                                   [&api] { api.RefreshToken(); }};
    SetProbes(metrics, probe_inputs);
    // The service manager hears what the probes answer: READY=1 when /readyz would be 200, and
    // WATCHDOG=1 only while /healthz would be (a stuck scheduler or relay stops the pings).
    const auto readiness = ReadinessProbe(probe_inputs);
    const auto health = HealthProbe(probe_inputs);
    auto tell_service_manager = [&] {
        if (const auto ready = readiness(); ready.status == 200) {
            notifier.Ready("provisioning");
        } else {
            notifier.NotReady(NotReadyStatus(ready.body));
        }
        notifier.Watchdog(health().status == 200, std::chrono::steady_clock::now());
    };

    const DeadLetterSettings dead_letters{kc.dead_letter_topic,
                                          static_cast<std::size_t>(kc.dead_letter_max_bytes),
                                          kc.revoked_topic};
    auto ingest = [&](const std::vector<kafka::Message>& batch) {
        std::vector<store::AcceptedEvent> accepted;
        std::vector<store::RejectedEvent> rejected;
        SortBatch(batch, dead_letters, accepted, rejected);
        auto summary = store->Ingest(accepted, rejected);
        if (!summary) {
            ++ingested.store_errors;
            ingested.store_writable = false;
            core::LogLimited(*log, spdlog::level::err, "ingest_failed/" + summary.error().code,
                             "event=ingest_failed messages={} error=\"{}\" hint=\"offsets are "
                             "not committed; the batch is retried\"",
                             batch.size(), summary.error().message);
            return false;
        }
        if (!ingested.store_writable.exchange(true)) log->info("event=store_recovered");
        hooked.Consumed(*summary, rejected);
        if (summary->conflicts > 0) relay.Wake();
        ingested.accepted += summary->accepted;
        ingested.duplicates += summary->duplicates;
        ingested.rejected += summary->rejected;
        if (summary->accepted > 0) provisioner.Wake();
        if (summary->rejected > 0) relay.Wake();
        log->debug("event=ingested accepted={} duplicates={} rejected={}", summary->accepted,
                   summary->duplicates, summary->rejected);
        return true;
    };

    PersonalDataEraser eraser(*store, std::chrono::seconds{config_.store.keep_personal_data_s});
    std::string fatal;
    provisioner.Start();
    relay.Start();
    bool drained = false;
    if (mode_ == Mode::kDrain) {
        log->info("event=draining hint=\"no input is consumed; stops once no job is pending and "
                  "the outbox is sent\"");
        // Ready in the sense that matters to a service manager: the drain has started.
        notifier.Ready("draining: finishing the store's pending jobs, sending its outbox");
        while (!stop_) {
            consumer_beat.Beat(clock.Now());  // this loop stands in for the consumer's
            provisioner.Wake();
            relay.Wake();
            eraser.MaybeSweep(clock.Now());
            fatal = FatalProblem(*store, nullptr, producer.status());
            if (!fatal.empty()) break;
            if (Drained(*store)) {
                drained = true;
                log->info("event=drained failed_jobs={} set_aside_outbox={} hint=\"failed jobs and "
                          "set-aside rows stay in the store: replay or inspect them before "
                          "removing it\"",
                          JobsInState(*store, "failed"), SetAsideRows(*store));
                break;
            }
            notifier.Watchdog(health().status == 200, std::chrono::steady_clock::now());
            std::this_thread::sleep_for(500ms);
        }
        notifier.Stopping();
        if (!fatal.empty()) log->critical("event=fatal_error error=\"{}\" action=exit code=1", fatal);
    } else {
        kafka::Consumer consumer(kafka_settings,
                                 std::vector<std::string>{kc.input_topic, kc.revoked_topic}, ingest);
        consumer_status.Set(consumer.status());
        consuming = true;
        log->info("event=started input_topic={} revoked_topic={} group_id={} concurrency={}",
                  kc.input_topic, kc.revoked_topic,
                  kc.group_id, config_.provision.concurrency);
        while (!stop_) {
            consumer_beat.Beat(clock.Now());
            consumer.PollOnce(500, 200ms);
            relay.Wake();
            eraser.MaybeSweep(clock.Now());
            fatal = FatalProblem(*store, consumer.status(), producer.status());
            if (!fatal.empty()) break;
            tell_service_manager();
        }
        notifier.Stopping();
        if (!fatal.empty()) {
            // Retrying cannot heal it: stop with exit 1 so that the orchestrator restarts the
            // daemon (or an operator is paged), rather than stalling while looking alive.
            // Offsets of batches not durable were never stored, so nothing is acknowledged.
            log->critical("event=fatal_error error=\"{}\" action=exit code=1", fatal);
        }
        log->info("event=stopping");
        consumer.Close();  // commits what is durable and leaves the group
    }
    auto deadline = std::chrono::seconds{config_.daemon.shutdown_timeout_s};
    provisioner.Stop(clock.Now() + deadline * 2 / 3);
    api.Shutdown();
    timers.Stop();
    relay.Stop(std::chrono::steady_clock::now() + deadline / 4);
    bool flushed = false;
    producer.Flush(std::chrono::seconds{2}, &flushed);
    log->info("event=stopped outbox_backlog={}", relay.stats().backlog.load());
    if (!fatal.empty()) return 1;
    if (mode_ == Mode::kDrain && !drained) {
        // Stopped by a signal with work left: a script running `run --drain && remove the
        // store` must not go on.
        log->warn("event=drain_interrupted hint=\"jobs are still pending; run --drain again\"");
        return Daemon::kExitDrainInterrupted;
    }
    return 0;
}

}  // namespace kyc_bridge::app
