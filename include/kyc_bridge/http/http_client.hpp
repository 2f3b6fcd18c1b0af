// SPDX-License-Identifier: Apache-2.0
// A thin, thread-safe libcurl client: one request in, one classified answer out.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::http {

struct Request {
    std::string method = "GET";  ///< GET, POST, PATCH, PUT, DELETE
    std::string url;             ///< absolute; https:// unless Options::allow_insecure_http
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  ///< sent as is when non-empty (or when the method is not GET)
};

struct Response {
    long status = 0;
    std::map<std::string, std::string> headers;  ///< names lower-cased; last value wins
    std::string body;

    /// The header's value, or nullptr. `lower_name` must be lower-case.
    const std::string* Header(const std::string& lower_name) const;
};

struct Options {
    int connect_timeout_ms = 3000;
    int request_timeout_ms = 10000;    ///< whole request, connect included
    bool allow_insecure_http = false;  ///< allow http:// (tests, the local emulator)
    /// PEM file of CA certificates trusted besides the system's (a private PKI, tests); empty =
    /// the system bundle only.
    std::string ca_file;
    std::size_t max_response_bytes = 4 << 20;
    /// Open connections at most (CURLMOPT_MAX_TOTAL_CONNECTIONS); 0 = libcurl's default. Requests
    /// beyond it wait inside libcurl for a free connection.
    long max_connections = 0;
    /// Offer HTTP/2 over TLS and multiplex requests on one connection where the server agrees.
    bool http2 = true;
};

/// Completion of HttpClient::Start: the answer whatever its status, or a transport error.
using ResponseCallback = std::function<void(core::Result<Response>)>;

class EventLoop;  // private: the libcurl multi handle and its thread

/// Sends HTTP requests with libcurl's multi interface, driven by one event-loop thread that the
/// client owns: any number of requests are in flight without a thread each. Connections are kept
/// alive and shared by all requests (the multi handle's connection cache), and HTTP/2 is
/// multiplexed where the server offers it. TLS peer and host verification are always on,
/// redirects are never followed, and signals are never used (CURLOPT_NOSIGNAL).
///
/// Thread-safe: any thread may call Start or Perform at any time.
class HttpClient {
public:
    explicit HttpClient(Options options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// Starts one request and returns at once. `done` is called exactly once, on the event-loop
    /// thread (never inside Start), with the answer whatever its status, or an error:
    /// kTransient for transport failures (refused, reset, timeout, oversized answer, shutdown),
    /// with curl's message and the host (never the URL's path, query or the body);
    /// kConfiguration for a certificate that does not verify (code "tls"), a host name that does
    /// not resolve ("dns"), and a URL that is malformed or not https:// (unless allowed). `done` must not block (every
    /// transfer waits while it runs) nor throw (std::terminate). After Shutdown there is no loop
    /// thread: `done` then runs inside Start, with the shutdown error. Never throws.
    void Start(Request request, ResponseCallback done);

    /// Start, then wait for the answer. Must not be called from a ResponseCallback.
    core::Result<Response> Perform(const Request& request);

    /// Ends every transfer with a kTransient error: code "shutdown" for one already sent (its
    /// effect is unknown), "shutdown_unsent" for one queued or started later (never sent);
    /// then stops the loop thread. Idempotent; the destructor calls it. Must not be called from a
    /// ResponseCallback (it joins the thread that runs it).
    void Shutdown();

    /// Requests started and not yet completed.
    std::size_t in_flight() const;

private:
    Options options_;
    std::unique_ptr<EventLoop> loop_;
};

/// Parses an HTTP date (RFC 9110 IMF-fixdate, RFC 850 or asctime form), as in Retry-After.
std::optional<core::TimePoint> ParseHttpDate(std::string_view text);

}  // namespace kyc_bridge::http
