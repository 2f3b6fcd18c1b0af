// SPDX-License-Identifier: Apache-2.0
// The benchmark's continuous reader of auth.user_created.
#include "output_watcher.hpp"

#include <librdkafka/rdkafka.h>

#include <stdexcept>

namespace kyc_bridge::bench {
namespace {

struct HandleDeleter {
    void operator()(rd_kafka_t* rk) const {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
};
struct ListDeleter {
    void operator()(rd_kafka_topic_partition_list_t* list) const {
        rd_kafka_topic_partition_list_destroy(list);
    }
};
struct MessageDeleter {
    void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};

rd_kafka_t* NewConsumer(const std::string& brokers) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    // A short fetch wait: the time a record waits in the broker for company is added to every
    // customer's measured latency.
    for (const auto& [name, value] :
         {std::pair<const char*, std::string>{"bootstrap.servers", brokers},
          {"group.id", "kyc-bridge-bench-watcher"},
          {"enable.auto.commit", "false"},
          {"fetch.wait.max.ms", "10"},
          {"log_level", "3"}}) {
        if (rd_kafka_conf_set(conf, name, value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            throw std::runtime_error(std::string("watcher config ") + name + ": " + error);
        }
    }
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(std::string("watcher: ") + error);
    }
    return rk;
}

int PartitionCount(rd_kafka_t* rk, const std::string& topic) {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    const auto err = rd_kafka_metadata(rk, 0, handle, &metadata, 10000);
    rd_kafka_topic_destroy(handle);
    if (err) throw std::runtime_error("metadata for " + topic + ": " + rd_kafka_err2str(err));
    const int partitions = metadata->topic_cnt == 1 ? metadata->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(metadata);
    if (partitions == 0) throw std::runtime_error("topic " + topic + " has no partitions");
    return partitions;
}

}  // namespace

struct OutputWatcher::Consumer {
    std::unique_ptr<rd_kafka_t, HandleDeleter> handle;
};

OutputWatcher::OutputWatcher(const std::string& brokers, const std::string& topic)
    : consumer_(std::make_unique<Consumer>()) {
    consumer_->handle.reset(NewConsumer(brokers));
    rd_kafka_t* rk = consumer_->handle.get();
    const int partitions = PartitionCount(rk, topic);
    std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter> list(
        rd_kafka_topic_partition_list_new(partitions));
    for (int p = 0; p < partitions; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    if (auto err = rd_kafka_assign(rk, list.get())) {
        throw std::runtime_error(std::string("watcher assign: ") + rd_kafka_err2str(err));
    }
    thread_ = std::thread([this] { Run(); });
}

OutputWatcher::~OutputWatcher() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    thread_.join();
}

void OutputWatcher::Run() {
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stop_) return;
        }
        std::unique_ptr<rd_kafka_message_t, MessageDeleter> message(
            rd_kafka_consumer_poll(consumer_->handle.get(), 100));
        if (!message || message->err) continue;  // timeout, or end of partition
        const auto now = Clock::now();
        std::string key =
            message->key ? std::string(static_cast<const char*>(message->key), message->key_len)
                         : std::string();
        std::lock_guard lock(mutex_);
        if (arrivals_.emplace(std::move(key), now).second) arrived_.notify_all();
    }
}

std::size_t OutputWatcher::Count() {
    std::lock_guard lock(mutex_);
    return arrivals_.size();
}

bool OutputWatcher::WaitFor(std::size_t count, Clock::time_point until) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_until(lock, until, [&] { return arrivals_.size() >= count; });
}

std::map<std::string, OutputWatcher::Clock::time_point> OutputWatcher::Arrivals() {
    std::lock_guard lock(mutex_);
    return arrivals_;
}

}  // namespace kyc_bridge::bench
