// SPDX-License-Identifier: Apache-2.0
// `kyc-bridge`: the daemon (`run`) and, as they come, the ops verbs, on one binary.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "kyc_bridge/app/daemon.hpp"
#include "kyc_bridge/config/config.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "ops_commands.hpp"
#include "tenant_verbs.hpp"

#ifndef KYC_BRIDGE_VERSION
#define KYC_BRIDGE_VERSION "unknown"
#endif

namespace {

constexpr int kExitConfig = 2;
constexpr int kExitStartup = 1;

// SIGTERM/SIGINT are blocked in every thread and taken by one waiting thread, so that no
// handler runs inside librdkafka or libcurl code.
int RunDaemon(const std::string& config_path, kyc_bridge::app::Daemon::Mode mode) {
    using kyc_bridge::config::ConfigError;
    try {
        auto config =
            kyc_bridge::config::LoadConfig(config_path, kyc_bridge::config::ProcessEnvironment());
        try {
            kyc_bridge::core::SetUpLogging(config.log.level, config.log.format);
        } catch (const std::invalid_argument& e) {
            throw ConfigError("log", e.what());
        }
        for (const auto& warning : config.warnings) {
            kyc_bridge::core::Logger("config")->warn("event=config_warning warning=\"{}\"", warning);
        }
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGINT);
        pthread_sigmask(SIG_BLOCK, &signals, nullptr);
        std::signal(SIGPIPE, SIG_IGN);

        kyc_bridge::app::Daemon daemon(config, mode);
        std::thread waiter([&] {
            int received = 0;
            sigwait(&signals, &received);
            kyc_bridge::core::Logger("app")->info("event=signal signal={}", received);
            daemon.RequestStop();
        });
        auto release_waiter = [&] {
            pthread_kill(waiter.native_handle(), SIGTERM);  // taken by sigwait, not delivered
            waiter.join();
        };
        int code = 0;
        try {
            code = daemon.Run();
        } catch (...) {
            release_waiter();
            throw;
        }
        release_waiter();
        return code;
    } catch (const ConfigError& e) {
        std::cerr << "kyc-bridge: config error: " << e.what() << "\n";
        return kExitConfig;
    } catch (const std::exception& e) {
        std::cerr << "kyc-bridge: cannot start: " << e.what() << "\n";
        return kExitStartup;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kyc-bridge: KYC-verified customers become Auth0 logins, exactly once in effect"};
    app.set_version_flag("--version", std::string("kyc-bridge ") + KYC_BRIDGE_VERSION);
    app.require_subcommand(1);

    std::string config_path = "config/kyc-bridge.toml";
    auto* run = app.add_subcommand("run", "Run the daemon: Kafka → inbox → Auth0 → outbox → Kafka");
    run->add_option("-c,--config", config_path, "TOML config file")->required();
    bool drain = false;
    run->add_flag("--drain", drain,
                  "Consume nothing: finish the store's pending jobs, send its outbox, then exit 0 "
                  "(a scaled-down replica's store)");

    kyc_bridge::cli::OpsCommands ops(app);
    kyc_bridge::cli::TenantCommands tenant(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (*run) {
        return RunDaemon(config_path, drain ? kyc_bridge::app::Daemon::Mode::kDrain
                                            : kyc_bridge::app::Daemon::Mode::kConsume);
    }
    if (tenant.Chosen()) return tenant.Execute();
    return ops.Execute();
}
