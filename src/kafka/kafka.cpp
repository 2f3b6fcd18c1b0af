// SPDX-License-Identifier: Apache-2.0
// Consumer, producer and embedded cluster on librdkafka's C API.
#include <algorithm>
#include <map>

#include "kyc_bridge/core/log_limiter.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "rdkafka_holders.hpp"

namespace kyc_bridge::kafka {
namespace detail {

void Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
    char error[512];
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
        throw KafkaError("kafka.properties." + name + ": " + error);
    }
}

namespace {
// librdkafka errors are logged, never thrown across the callback; brokers going away is
// expected during outages and librdkafka reconnects by itself (CONFIGURATION.md
// reconnect.backoff.ms).
void OnError(rd_kafka_t*, int code, const char* reason, void*) {
    const char* name = rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code));
    core::LogLimited(*core::Logger("kafka"), spdlog::level::warn,
                     std::string("kafka_error/") + name, "event=kafka_error code={} reason=\"{}\"",
                     name, reason);
}

// librdkafka's own lines (CONFWARN, broker connections) go to the "kafka" logger, not to stderr
// as `%4|…`, so that they follow log.format. `level` is syslog's (rd_kafka_conf_set_log_cb);
// warnings and errors repeat on every reconnect, so they are rate-limited per facility. Called
// from librdkafka's threads: nothing may throw out of it.
void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* message) noexcept {
    try {
        const auto severity = level <= 3   ? spdlog::level::err
                              : level == 4 ? spdlog::level::warn
                              : level <= 6 ? spdlog::level::info
                                           : spdlog::level::debug;
        const char* client = rk ? rd_kafka_name(rk) : "";
        auto log = core::Logger("kafka");
        constexpr const char* kLine = "event=librdkafka facility={} client={} message=\"{}\"";
        if (severity >= spdlog::level::warn) {
            core::LogLimited(*log, severity, std::string("librdkafka/") + facility, kLine, facility,
                             client, message);
        } else {
            log->log(severity, kLine, facility, client, message);
        }
    } catch (...) {
    }
}
}  // namespace

ConfPtr MakeConf(const Settings& settings) {
    ConfPtr conf(rd_kafka_conf_new());
    Set(conf.get(), "bootstrap.servers", settings.brokers);
    Set(conf.get(), "reconnect.backoff.ms", "100");
    Set(conf.get(), "reconnect.backoff.max.ms", "5000");
    // Statistics feed ClientStatus: broker connections for /readyz, consumer lag for /metrics.
    Set(conf.get(), "statistics.interval.ms", "1000");
    rd_kafka_conf_set_error_cb(conf.get(), OnError);
    for (const auto& [name, value] : settings.properties) Set(conf.get(), name, value);
    return conf;
}

HandlePtr MakeHandle(rd_kafka_type_t type, ConfPtr conf) {
    char error[512];
    rd_kafka_conf_set_log_cb(conf.get(), OnLog);
    HandlePtr rk(rd_kafka_new(type, conf.get(), error, sizeof error));
    if (!rk) throw KafkaError(std::string("cannot create Kafka client: ") + error);
    conf.release();  // owned by rk now
    return rk;
}

}  // namespace detail

using namespace detail;

// --- consumer ---------------------------------------------------------------------------------

// A statistics callback for an Impl with a `rk` and a `status`; returns 0: librdkafka frees the
// JSON (rd_kafka_conf_set_stats_cb).
template <typename Impl>
int OnStatistics(rd_kafka_t* rk, char* json, size_t size, void* opaque) {
    const bool fatal = rd_kafka_fatal_error(rk, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
    static_cast<Impl*>(opaque)->status->UpdateFromStatistics(std::string_view(json, size), fatal);
    return 0;
}

struct Consumer::Impl {
    HandlePtr rk;
    std::shared_ptr<ClientStatus> status = std::make_shared<ClientStatus>();
    DurableSink sink;
    std::vector<Message> pending;  ///< polled, not yet durable
    /// Next offset per partition that is durable in the inbox but whose commit has not
    /// succeeded yet (a commit can fail while brokers are away); retried on every commit and
    /// on revoke.
    std::map<std::pair<std::string, std::int32_t>, std::int64_t> uncommitted;
    bool paused = false;
    bool closed = false;
    /// Backoff for retrying a held-back batch while the sink (the store) fails.
    int sink_failures = 0;
    std::chrono::steady_clock::time_point retry_sink_at{};

    /// Commits `uncommitted` (all of it, or only the partitions in `only`); forgets what
    /// succeeded.
    void CommitDurable(const rd_kafka_topic_partition_list_t* only = nullptr);
    /// Pauses or resumes the whole assignment and remembers which.
    void SetPaused(bool pause);
    void OnRebalance(rd_kafka_resp_err_t reason, rd_kafka_topic_partition_list_t* partitions);
};

static bool Contains(const rd_kafka_topic_partition_list_t* list, const std::string& topic,
                     std::int32_t partition) {
    for (int i = 0; list && i < list->cnt; ++i) {
        if (list->elems[i].partition == partition && topic == list->elems[i].topic) return true;
    }
    return false;
}

void Consumer::Impl::CommitDurable(const rd_kafka_topic_partition_list_t* only) {
    PartitionListPtr offsets(rd_kafka_topic_partition_list_new(static_cast<int>(uncommitted.size())));
    for (const auto& [tp, offset] : uncommitted) {
        if (only && !Contains(only, tp.first, tp.second)) continue;
        rd_kafka_topic_partition_list_add(offsets.get(), tp.first.c_str(), tp.second)->offset = offset;
    }
    if (offsets->cnt == 0) return;
    if (auto err = rd_kafka_commit(rk.get(), offsets.get(), 0)) {
        // Durable already; a failed commit only means a redelivery, deduplicated by the inbox.
        core::LogLimited(*core::Logger("consumer"), spdlog::level::warn,
                         std::string("commit_failed/") + rd_kafka_err2name(err),
                         "event=commit_failed code={} error=\"{}\"", rd_kafka_err2name(err),
                         rd_kafka_err2str(err));
        return;
    }
    for (int i = 0; i < offsets->cnt; ++i) {
        const auto& committed = offsets->elems[i];
        auto it = uncommitted.find({committed.topic, committed.partition});
        if (it != uncommitted.end() && it->second <= committed.offset) uncommitted.erase(it);
    }
}

void Consumer::Impl::SetPaused(bool pause) {
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk.get(), &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        PartitionListPtr holder(assigned);
        if (pause) {
            rd_kafka_pause_partitions(rk.get(), assigned);
        } else {
            rd_kafka_resume_partitions(rk.get(), assigned);
        }
    }
    paused = pause;
}

// Rebalances: before partitions go, commit what the inbox already holds for them, so that the
// next owner starts after it; polled messages that are not durable yet are dropped, the next
// owner reads them again. Works for the eager and the cooperative protocol
// (librdkafka INTRODUCTION.md, "Consumer groups" / "Incremental rebalancing").
void Consumer::Impl::OnRebalance(rd_kafka_resp_err_t reason,
                                 rd_kafka_topic_partition_list_t* partitions) {
    rd_kafka_t* handle = rk.get();
    const bool cooperative = std::string(rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE";
    if (reason == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (cooperative) {
            if (auto* error = rd_kafka_incremental_assign(handle, partitions)) rd_kafka_error_destroy(error);
        } else {
            rd_kafka_assign(handle, partitions);
        }
        // A partition's pause flag outlives its assignment in librdkafka: set it explicitly
        // either way, paused only while the store is failing.
        if (paused) {
            rd_kafka_pause_partitions(handle, partitions);
        } else {
            rd_kafka_resume_partitions(handle, partitions);
        }
        core::Logger("consumer")->info("event=partitions_assigned count={}", partitions->cnt);
        status->SetAssigned(true, status->AssignedPartitions() * cooperative + partitions->cnt);
        return;
    }
    CommitDurable(partitions);
    rd_kafka_resume_partitions(handle, partitions);
    std::erase_if(pending, [&](const Message& m) { return Contains(partitions, m.topic, m.partition); });
    std::erase_if(uncommitted, [&](const auto& entry) {
        return Contains(partitions, entry.first.first, entry.first.second);
    });
    if (cooperative) {
        if (auto* error = rd_kafka_incremental_unassign(handle, partitions)) rd_kafka_error_destroy(error);
    } else {
        rd_kafka_assign(handle, nullptr);
    }
    const int left = cooperative ? status->AssignedPartitions() - partitions->cnt : 0;
    // Cooperative: a partial revoke keeps the rest of the assignment.
    status->SetAssigned(cooperative && left > 0, std::max(left, 0));
    core::Logger("consumer")->info("event=partitions_revoked count={}", partitions->cnt);
}

static Message ToMessage(const rd_kafka_message_t* m) {
    Message out;
    out.topic = rd_kafka_topic_name(m->rkt);
    out.partition = m->partition;
    out.offset = m->offset;
    if (m->key) out.key = std::string(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) out.payload.assign(static_cast<const char*>(m->payload), m->len);
    out.tombstone = m->payload == nullptr;
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
            out.headers.push_back({name, value ? std::string(static_cast<const char*>(value), size) : ""});
        }
    }
    return out;
}

Consumer::Consumer(const Settings& settings, const std::vector<std::string>& topic_names,
                   DurableSink sink)
    : impl_(std::make_unique<Impl>()) {
    auto conf = MakeConf(settings);
    Set(conf.get(), "group.id", settings.group_id);
    Set(conf.get(), "auto.offset.reset", "earliest");
    // A member killed with -9 holds its partitions until its session times out; librdkafka's
    // default (45 s) would stall a restarted instance that long. Heartbeats come from a
    // librdkafka thread, so a short session costs nothing while jobs run. Overridable.
    Set(conf.get(), "session.timeout.ms", "10000");
    Set(conf.get(), "heartbeat.interval.ms", "3000");
    for (const auto& [name, value] : settings.properties) Set(conf.get(), name, value);
    // Owned by kyc-bridge, set after kafka.properties (which config validation already keeps
    // them out of): offsets are committed by hand once the inbox is durable, and only committed
    // transactions are read.
    Set(conf.get(), "enable.auto.commit", "false");
    Set(conf.get(), "enable.auto.offset.store", "false");
    Set(conf.get(), "isolation.level", "read_committed");
    rd_kafka_conf_set_rebalance_cb(
        conf.get(), [](rd_kafka_t*, rd_kafka_resp_err_t reason,
                       rd_kafka_topic_partition_list_t* partitions, void* opaque) {
            static_cast<Consumer::Impl*>(opaque)->OnRebalance(reason, partitions);
        });
    rd_kafka_conf_set_stats_cb(conf.get(), OnStatistics<Consumer::Impl>);
    rd_kafka_conf_set_opaque(conf.get(), impl_.get());
    impl_->rk = MakeHandle(RD_KAFKA_CONSUMER, std::move(conf));
    impl_->sink = std::move(sink);
    rd_kafka_poll_set_consumer(impl_->rk.get());
    PartitionListPtr topics(rd_kafka_topic_partition_list_new(static_cast<int>(topic_names.size())));
    std::string joined;
    for (const auto& topic : topic_names) {
        rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
        joined += (joined.empty() ? "" : ", ") + topic;
    }
    if (auto err = rd_kafka_subscribe(impl_->rk.get(), topics.get())) {
        throw KafkaError("cannot subscribe to " + joined + ": " + rd_kafka_err2str(err));
    }
}

Consumer::~Consumer() { Close(); }

std::shared_ptr<const ClientStatus> Consumer::status() const { return impl_->status; }

void Consumer::Close() {
    if (impl_->closed) return;
    impl_->closed = true;
    rd_kafka_consumer_close(impl_->rk.get());
}

std::size_t Consumer::PollOnce(std::size_t max_messages, std::chrono::milliseconds timeout) {
    auto* rk = impl_->rk.get();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    // A rebalance took the failed batch away: nothing is held back any more.
    if (impl_->pending.empty() && impl_->paused) impl_->SetPaused(false);
    if (impl_->pending.empty()) {
        while (impl_->pending.size() < max_messages) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 && !impl_->pending.empty()) break;
            MessagePtr m(rd_kafka_consumer_poll(rk, static_cast<int>(std::max<long>(0, left.count()))));
            if (!m) break;
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    core::LogLimited(*core::Logger("consumer"), spdlog::level::warn,
                                     std::string("consume_error/") + rd_kafka_err2name(m->err),
                                     "event=consume_error code={} error=\"{}\"",
                                     rd_kafka_err2name(m->err), rd_kafka_message_errstr(m.get()));
                }
                continue;
            }
            impl_->pending.push_back(ToMessage(m.get()));
        }
    } else {
        // Keep the membership alive while the sink is failing; partitions are paused. A
        // message fetched before the pause may still come out: it joins the held-back batch,
        // never dropped, or a later commit would skip past it.
        MessagePtr m(rd_kafka_consumer_poll(rk, static_cast<int>(timeout.count())));
        if (m && !m->err) impl_->pending.push_back(ToMessage(m.get()));
    }
    if (impl_->pending.empty()) return 0;
    if (std::chrono::steady_clock::now() < impl_->retry_sink_at) return 0;

    bool durable = false;
    try {
        durable = impl_->sink(impl_->pending);
    } catch (const std::exception& e) {
        core::LogLimited(*core::Logger("consumer"), spdlog::level::err, "sink_failed",
                         "event=sink_failed error=\"{}\"", e.what());
    }
    if (!durable) {
        // Exponential backoff, 200 ms doubling up to 30 s: a full disk or a locked database
        // is not hammered, and polling goes on meanwhile to keep the group membership.
        const auto backoff = std::chrono::milliseconds{200} * (1 << std::min(impl_->sink_failures, 8));
        impl_->retry_sink_at = std::chrono::steady_clock::now() + std::min<std::chrono::milliseconds>(backoff, std::chrono::seconds{30});
        ++impl_->sink_failures;
        if (!impl_->paused) impl_->SetPaused(true);
        return 0;
    }
    // Commit offset+1 of the highest message per partition, synchronously: only durable rows.
    for (const auto& m : impl_->pending) {
        auto& offset = impl_->uncommitted[{m.topic, m.partition}];
        offset = std::max(offset, m.offset + 1);
    }
    impl_->sink_failures = 0;
    impl_->retry_sink_at = {};
    impl_->CommitDurable();
    auto count = impl_->pending.size();
    impl_->pending.clear();
    if (impl_->paused) impl_->SetPaused(false);
    return count;
}

// --- producer ---------------------------------------------------------------------------------

namespace {

std::string ErrorText(rd_kafka_resp_err_t err) {
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
    return std::string(rd_kafka_err2name(err)) + ": " + rd_kafka_err2str(err);
}

// Delivery failures that a resend cannot fix (the broker refuses this message or this
// producer for good); transient ones (timeouts, purges, a fatal idempotence error that a
// restart clears, an ACL an operator can still fix) are retried.
bool IsPermanentDeliveryError(rd_kafka_resp_err_t err) {
    switch (err) {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_MSG:
        case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS: return true;
        default: return false;
    }
}

}  // namespace

struct Producer::Impl {
    HandlePtr rk;
    std::shared_ptr<ClientStatus> status = std::make_shared<ClientStatus>();
    std::vector<DeliveryReport> reports;  ///< filled by the delivery callback during poll
};

Producer::Producer(const Settings& settings) : impl_(std::make_unique<Impl>()) {
    auto conf = MakeConf(settings);
    // Idempotent producer: no duplicates or reordering from internal retries
    // (librdkafka INTRODUCTION.md, "Idempotent Producer"); messages wait out broker outages.
    Set(conf.get(), "message.timeout.ms", "0");
    for (const auto& [name, value] : settings.properties) Set(conf.get(), name, value);
    // Owned by kyc-bridge, set last: idempotence needs acks=all and at most 5 requests in flight
    // per connection (librdkafka CONFIGURATION.md, enable.idempotence).
    Set(conf.get(), "enable.idempotence", "true");
    Set(conf.get(), "acks", "all");
    Set(conf.get(), "max.in.flight.requests.per.connection", "5");
    rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        auto* impl = static_cast<Producer::Impl*>(opaque);
        auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m->_private));
        impl->reports.push_back({id, m->err == RD_KAFKA_RESP_ERR_NO_ERROR,
                                 IsPermanentDeliveryError(m->err), ErrorText(m->err)});
    });
    rd_kafka_conf_set_stats_cb(conf.get(), OnStatistics<Producer::Impl>);
    rd_kafka_conf_set_opaque(conf.get(), impl_.get());
    impl_->rk = MakeHandle(RD_KAFKA_PRODUCER, std::move(conf));
}

std::shared_ptr<const ClientStatus> Producer::status() const { return impl_->status; }

Producer::~Producer() { rd_kafka_flush(impl_->rk.get(), 5000); }

ProduceResult Producer::Produce(const OutboundMessage& message, std::uint64_t id) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(message.headers.size());
    for (const auto& h : message.headers) {
        rd_kafka_header_add(headers, h.name.c_str(), -1, h.value.data(), h.value.size());
    }
    auto err = rd_kafka_producev(
        impl_->rk.get(), RD_KAFKA_V_TOPIC(message.topic.c_str()),
        RD_KAFKA_V_KEY(message.key.data(), message.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(message.payload.data()), message.payload.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(id))), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(headers);  // not taken over on failure
        // A message over message.max.bytes, or otherwise malformed, fails the same way every
        // time: the relay sets it aside instead of retrying it forever.
        const bool never = err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                           err == RD_KAFKA_RESP_ERR__INVALID_ARG ||
                           err == RD_KAFKA_RESP_ERR_INVALID_RECORD;
        return {never ? ProduceResult::Kind::kRejected : ProduceResult::Kind::kQueueFull,
                ErrorText(err)};
    }
    return {};
}

std::vector<DeliveryReport> Producer::Poll(std::chrono::milliseconds timeout) {
    rd_kafka_poll(impl_->rk.get(), static_cast<int>(timeout.count()));
    return std::exchange(impl_->reports, {});
}

std::vector<DeliveryReport> Producer::Flush(std::chrono::milliseconds timeout, bool* complete) {
    auto err = rd_kafka_flush(impl_->rk.get(), static_cast<int>(timeout.count()));
    if (complete) *complete = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    return std::exchange(impl_->reports, {});
}

// --- embedded cluster -------------------------------------------------------------------------

struct EmbeddedCluster::Impl {
    HandlePtr rk;  ///< hosts the mock cluster
    rd_kafka_mock_cluster_t* cluster = nullptr;
    int brokers = 1;
};

EmbeddedCluster::EmbeddedCluster(int broker_count, const std::vector<TopicSpec>& topics)
    : impl_(std::make_unique<Impl>()) {
    ConfPtr conf(rd_kafka_conf_new());
    Set(conf.get(), "log_level", "3");  // the host handle never connects: no bootstrap warning
    impl_->rk = MakeHandle(RD_KAFKA_PRODUCER, std::move(conf));
    impl_->cluster = rd_kafka_mock_cluster_new(impl_->rk.get(), broker_count);
    if (!impl_->cluster) throw KafkaError("cannot start the embedded Kafka cluster");
    impl_->brokers = broker_count;
    for (const auto& t : topics) {
        if (auto err = rd_kafka_mock_topic_create(impl_->cluster, t.name.c_str(), t.partitions,
                                                  std::min(broker_count, 3))) {
            throw KafkaError("cannot create topic " + t.name + ": " + rd_kafka_err2str(err));
        }
    }
}

EmbeddedCluster::~EmbeddedCluster() {
    if (impl_->cluster) rd_kafka_mock_cluster_destroy(impl_->cluster);
}

std::string EmbeddedCluster::bootstrap_servers() const {
    return rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

void EmbeddedCluster::SetAllBrokersUp(bool up) {
    for (int id = 1; id <= impl_->brokers; ++id) {
        if (up) rd_kafka_mock_broker_set_up(impl_->cluster, id);
        else rd_kafka_mock_broker_set_down(impl_->cluster, id);
    }
}

// --- metadata ---------------------------------------------------------------------------------

std::vector<std::string> ListTopics(const Settings& settings, std::chrono::milliseconds timeout) {
    auto rk = MakeHandle(RD_KAFKA_PRODUCER, MakeConf(settings));
    const rd_kafka_metadata_t* metadata = nullptr;
    auto err = rd_kafka_metadata(rk.get(), /*all_topics=*/1, nullptr, &metadata,
                                 static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw KafkaError("cannot read cluster metadata from " + settings.brokers + ": " +
                         rd_kafka_err2name(err) + ": " + rd_kafka_err2str(err));
    }
    std::vector<std::string> topics;
    for (int i = 0; i < metadata->topic_cnt; ++i) {
        if (metadata->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            topics.emplace_back(metadata->topics[i].topic);
        }
    }
    rd_kafka_metadata_destroy(metadata);
    return topics;
}

}  // namespace kyc_bridge::kafka
