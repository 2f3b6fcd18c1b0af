// SPDX-License-Identifier: Apache-2.0
// auth0-emulator: an Auth0 tenant on loopback for kyc-bridge's tests and demo.
//   auth0-emulator --listen 127.0.0.1:0 --port-file F --client-id C --client-secret S
//                  [--roles A,B] [--connection NAME] [--token-ttl S]
//                  [--rate-limit-per-second N --rate-limit-burst N] [--seed-users FILE]
//                  [--threads N] [--tls-cert FILE --tls-key FILE]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "emulator.hpp"

// Debian's cpp-httplib is a compiled library built with OpenSSL: its pkg-config file defines
// CPPHTTPLIB_OPENSSL_SUPPORT for every user, so the class layouts agree with libcpp-httplib.so.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#error "--tls-cert needs cpp-httplib with OpenSSL (Debian's libcpp-httplib-dev defines it)"
#endif

namespace {

// cpp-httplib 0.11 listens with a backlog of 5: a client opening hundreds of connections at once
// overflows it and waits a second per SYN retransmit. Linux lets listen() be called again to
// change the backlog of a listening socket, so find ours and raise it.
void RaiseListenBacklog(int port) {
    for (int fd = 3; fd < 1024; ++fd) {
        struct stat st {};
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        int listening = 0;
        socklen_t size = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || !listening)
            continue;
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
        const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
        if (address.ss_family == AF_INET && ntohs(in->sin_port) == port) listen(fd, SOMAXCONN);
    }
}

// The routes, socket options, backlog fix and port file, the same over http and https
// (httplib::SSLServer is an httplib::Server). Returns the exit code.
int Serve(httplib::Server& server, auth0_emulator::Emulator& emulator, const std::string& scheme,
          const std::string& host, int wanted_port, const std::string& port_file, int threads) {
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // Without it the answer's headers and body leave in two segments and Nagle holds the
    // second until the client's delayed ACK: 40 ms on every call, which Auth0 does not add.
    server.set_tcp_nodelay(true);
    server.set_keep_alive_max_count(100000);
    server.set_keep_alive_timeout(30);
    emulator.Register(server);
    const int port = wanted_port == 0
                         ? server.bind_to_any_port(host.c_str())
                         : (server.bind_to_port(host.c_str(), wanted_port) ? wanted_port : -1);
    if (port <= 0) {
        std::cerr << "auth0-emulator: cannot listen on " << host << ":" << wanted_port << "\n";
        return 1;
    }
    RaiseListenBacklog(port);
    std::cout << "auth0-emulator listening on " << scheme << "://" << host << ":" << port
              << std::endl;
    if (!port_file.empty()) {
        // Written whole, then renamed, so a reader never sees half a port number.
        const auto temporary = port_file + ".tmp";
        std::ofstream(temporary) << port;
        std::filesystem::rename(temporary, port_file);
    }
    return server.listen_after_bind() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    auth0_emulator::Options options;
    std::string listen = "127.0.0.1:0";
    std::string port_file;
    std::string seed_users;
    std::string tls_cert;
    std::string tls_key;
    // cpp-httplib gives each connection a thread for as long as it is kept alive, and a request
    // with an injected delay holds its thread while it sleeps: a client with 512 jobs in flight
    // needs 512 threads, or requests queue behind idle connections.
    int threads = 1024;
    CLI::App app{"Auth0 emulator for kyc-bridge tests"};
    app.add_option("--listen", listen, "HOST:PORT; port 0 picks a free one");
    app.add_option("--port-file", port_file, "write the bound port here once listening");
    app.add_option("--client-id", options.client_id);
    app.add_option("--client-secret", options.client_secret);
    app.add_option("--connection", options.connection);
    app.add_option("--roles", options.roles, "role names that exist in the tenant")->delimiter(',');
    app.add_option("--scopes", options.scopes, "scopes granted to the M2M client")->delimiter(',');
    app.add_option("--token-ttl", options.token_ttl_s, "access token lifetime in seconds");
    app.add_option("--rate-limit-per-second", options.rate_limit_per_second,
                   "Management API sustained rate; 0 = unlimited");
    app.add_option("--rate-limit-burst", options.rate_limit_burst,
                   "bucket size; default = the rate");
    app.add_option("--change-password-per-minute", options.change_password_per_minute,
                   "change_password calls per email per minute; 0 = unlimited");
    app.add_option("--seed-users", seed_users, "JSON array of users to create at start");
    app.add_option("--seed", options.seed, "random seed for fault injection");
    app.add_option("--threads", threads, "worker threads = connections served at once")
        ->check(CLI::Range(1, 16384));
    auto* cert_option = app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve https")
                            ->check(CLI::ExistingFile);
    auto* key_option = app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert")
                           ->check(CLI::ExistingFile);
    cert_option->needs(key_option);
    key_option->needs(cert_option);
    CLI11_PARSE(app, argc, argv);
    // `--roles ""` (a tenant with no roles yet, for tenant apply) splits into one empty name.
    std::erase(options.roles, std::string{});
    if (options.rate_limit_burst <= 0) options.rate_limit_burst = options.rate_limit_per_second;

    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
        std::cerr << "auth0-emulator: --listen must be HOST:PORT\n";
        return 2;
    }
    const std::string host = listen.substr(0, colon);
    const int wanted_port = std::stoi(listen.substr(colon + 1));

    auth0_emulator::Emulator emulator(options);
    if (!seed_users.empty()) emulator.SeedFile(seed_users);

    if (tls_cert.empty()) {
        httplib::Server server;
        return Serve(server, emulator, "http", host, wanted_port, port_file, threads);
    }
    httplib::SSLServer server(tls_cert.c_str(), tls_key.c_str());
    if (!server.is_valid()) {
        std::cerr << "auth0-emulator: cannot load --tls-cert " << tls_cert << " / --tls-key "
                  << tls_key << "\n";
        return 2;
    }
    return Serve(server, emulator, "https", host, wanted_port, port_file, threads);
}
