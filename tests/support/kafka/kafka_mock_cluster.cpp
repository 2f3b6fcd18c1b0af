// SPDX-License-Identifier: Apache-2.0
// kafka-mock-cluster: librdkafka's Kafka-protocol mock cluster (rdkafka_mock.h) as a process of
// its own, so that integration tests can kill the daemon without killing the brokers.
//   kafka-mock-cluster --brokers 3 --topic NAME:PARTITIONS ... --bootstrap-file F
//   SIGUSR1: every broker down (rd_kafka_mock_broker_set_down), SIGUSR2: every broker up,
//   SIGTERM/SIGINT: exit.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "kyc_bridge/kafka/kafka.hpp"

int main(int argc, char** argv) {
    int brokers = 3;
    std::vector<std::string> topic_flags;
    std::string bootstrap_file;
    CLI::App app{"librdkafka mock cluster for kyc-bridge tests"};
    app.add_option("--brokers", brokers, "number of brokers");
    app.add_option("--topic", topic_flags, "NAME:PARTITIONS, repeatable");
    app.add_option("--bootstrap-file", bootstrap_file, "write the bootstrap servers here");
    CLI11_PARSE(app, argc, argv);

    std::vector<kyc_bridge::kafka::TopicSpec> topics;
    for (const auto& flag : topic_flags) {
        const auto colon = flag.rfind(':');
        if (colon == std::string::npos) {
            std::cerr << "kafka-mock-cluster: --topic must be NAME:PARTITIONS, got " << flag
                      << "\n";
            return 2;
        }
        topics.push_back({flag.substr(0, colon), std::stoi(flag.substr(colon + 1))});
    }

    // Block the signals before librdkafka starts its threads, so that only sigwait sees them.
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    kyc_bridge::kafka::EmbeddedCluster cluster(brokers, topics);
    std::cout << "kafka-mock-cluster: bootstrap " << cluster.bootstrap_servers() << std::endl;
    if (!bootstrap_file.empty()) {
        const auto temporary = bootstrap_file + ".tmp";
        std::ofstream(temporary) << cluster.bootstrap_servers();
        std::filesystem::rename(temporary, bootstrap_file);
    }
    for (;;) {
        int received = 0;
        sigwait(&signals, &received);
        if (received == SIGUSR1) {
            std::cout << "kafka-mock-cluster: all brokers down" << std::endl;
            cluster.SetAllBrokersUp(false);
        } else if (received == SIGUSR2) {
            std::cout << "kafka-mock-cluster: all brokers up" << std::endl;
            cluster.SetAllBrokersUp(true);
        } else {
            std::cout << "kafka-mock-cluster: stopping" << std::endl;
            return 0;
        }
    }
}
