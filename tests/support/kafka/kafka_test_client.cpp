// SPDX-License-Identifier: Apache-2.0
#include "kafka_test_client.hpp"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <memory>
#include <stdexcept>

namespace kyc_bridge::testing {
namespace {

struct HandleDeleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

Handle MakeClient(rd_kafka_type_t type, const std::string& brokers,
                  const std::vector<std::pair<std::string, std::string>>& settings,
                  void (*delivery)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto set = [&](const std::string& name, const std::string& value) {
        if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            throw std::runtime_error("test client config " + name + ": " + error);
        }
    };
    set("bootstrap.servers", brokers);
    set("log_level", "3");
    for (const auto& [name, value] : settings) set(name, value);
    if (delivery) rd_kafka_conf_set_dr_msg_cb(conf, delivery);
    rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof error);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(std::string("test client: ") + error);
    }
    return Handle(rk);
}

std::atomic<int> g_failed_deliveries{0};

void CountFailures(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
    if (message->err) ++g_failed_deliveries;
}

int PartitionCount(rd_kafka_t* rk, const std::string& topic) {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    auto err = rd_kafka_metadata(rk, 0, handle, &metadata, 10000);
    rd_kafka_topic_destroy(handle);
    if (err) throw std::runtime_error("metadata for " + topic + ": " + rd_kafka_err2str(err));
    int partitions = metadata->topic_cnt == 1 ? metadata->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(metadata);
    if (partitions == 0) throw std::runtime_error("topic " + topic + " has no partitions");
    return partitions;
}

}  // namespace

void ProduceAll(const std::string& brokers, const std::string& topic,
                const std::vector<std::pair<std::string, std::string>>& key_values) {
    g_failed_deliveries = 0;
    auto producer = MakeClient(
        RD_KAFKA_PRODUCER, brokers,
        {{"acks", "all"}, {"enable.idempotence", "true"}, {"linger.ms", "5"}}, CountFailures);
    for (const auto& [key, value] : key_values) {
        for (;;) {
            auto err =
                rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                  RD_KAFKA_V_KEY(key.data(), key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(producer.get(), 100);
                continue;
            }
            if (err) throw std::runtime_error("produce to " + topic + ": " + rd_kafka_err2str(err));
            break;
        }
        rd_kafka_poll(producer.get(), 0);
    }
    if (auto err = rd_kafka_flush(producer.get(), 30000)) {
        throw std::runtime_error("flush to " + topic + ": " + rd_kafka_err2str(err));
    }
    if (g_failed_deliveries > 0) {
        throw std::runtime_error(std::to_string(g_failed_deliveries.load()) + " deliveries to " +
                                 topic + " failed");
    }
}

std::vector<KafkaRecord> ReadAll(const std::string& brokers, const std::string& topic,
                                 std::chrono::milliseconds timeout) {
    auto consumer = MakeClient(RD_KAFKA_CONSUMER, brokers,
                               {{"group.id", "kyc-bridge-test-reader"},
                                {"enable.auto.commit", "false"},
                                {"enable.partition.eof", "false"}});
    const int partitions = PartitionCount(consumer.get(), topic);
    std::map<int, std::int64_t> high;  // partition → high watermark still to reach
    rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
        std::int64_t low = 0, hi = 0;
        auto err =
            rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), p, &low, &hi, 10000);
        if (err) {
            rd_kafka_topic_partition_list_destroy(assignment);
            throw std::runtime_error("watermarks of " + topic + ": " + rd_kafka_err2str(err));
        }
        if (hi > low) high[p] = hi;
        rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(consumer.get(), assignment);
    rd_kafka_topic_partition_list_destroy(assignment);

    std::vector<KafkaRecord> records;
    const auto deadline =
        std::chrono::steady_clock::now() + std::max(timeout, std::chrono::milliseconds{10000});
    while (!high.empty() && std::chrono::steady_clock::now() < deadline) {
        rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), 200);
        if (!message) continue;
        std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> owned(
            message, rd_kafka_message_destroy);
        if (message->err) continue;
        KafkaRecord record;
        if (message->key)
            record.key.assign(static_cast<const char*>(message->key), message->key_len);
        if (message->payload)
            record.value.assign(static_cast<const char*>(message->payload), message->len);
        record.partition = message->partition;
        record.offset = message->offset;
        rd_kafka_headers_t* headers = nullptr;
        if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char* name = nullptr;
            const void* value = nullptr;
            size_t size = 0;
            for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == 0;
                 ++i) {
                record.headers.emplace_back(name,
                                            std::string(static_cast<const char*>(value), size));
            }
        }
        records.push_back(std::move(record));
        if (auto it = high.find(message->partition);
            it != high.end() && message->offset + 1 >= it->second) {
            high.erase(it);
        }
    }
    rd_kafka_consumer_close(consumer.get());
    if (!high.empty()) throw std::runtime_error("could not read all of " + topic + " in time");
    return records;
}

}  // namespace kyc_bridge::testing
