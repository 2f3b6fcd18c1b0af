// SPDX-License-Identifier: Apache-2.0
// The only place that includes rdkafka.h: RAII holders and configuration helpers.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>

#include "kyc_bridge/kafka/kafka.hpp"

namespace kyc_bridge::kafka::detail {

struct HandleDeleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
    void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
struct PartitionListDeleter {
    void operator()(rd_kafka_topic_partition_list_t* list) const {
        rd_kafka_topic_partition_list_destroy(list);
    }
};
struct MessageDeleter {
    void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};

using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

/// Sets one property; throws KafkaError naming it and librdkafka's reason.
void Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value);

/// A conf with our defaults, then the user's properties (applied last, so they win).
ConfPtr MakeConf(const Settings& settings);

/// Creates the handle; takes ownership of conf. Throws KafkaError.
HandlePtr MakeHandle(rd_kafka_type_t type, ConfPtr conf);

}  // namespace kyc_bridge::kafka::detail
