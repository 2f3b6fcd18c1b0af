// SPDX-License-Identifier: Apache-2.0
// A thin, thread-safe libcurl client: one request in, one classified answer out.
#pragma once

#include <cstddef>
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
    std::size_t max_response_bytes = 4 << 20;
};

class HandlePool;  // private: idle CURL easy handles

/// Sends HTTP requests with libcurl. TLS peer and host verification are always on, redirects are
/// never followed, and signals are never used (CURLOPT_NOSIGNAL), so it is safe in threads.
///
/// Thread-safe: any number of threads may call Perform at once. Each call borrows an easy handle
/// from a small pool and gives it back afterwards, so connections are kept alive between calls
/// (one handle — one connection cache — per concurrently running request).
class HttpClient {
public:
    explicit HttpClient(Options options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// Performs one request. Returns the answer whatever its status. Errors:
    /// kTransient for transport failures (refused, reset, DNS, timeout, TLS, oversized answer),
    /// with curl's message (never the URL's query or the body); kConfiguration for a URL that
    /// is malformed or not https:// (unless allowed). Never throws.
    core::Result<Response> Perform(const Request& request);

private:
    Options options_;
    std::unique_ptr<HandlePool> pool_;
};

/// Parses an HTTP date (RFC 9110 IMF-fixdate, RFC 850 or asctime form), as in Retry-After.
std::optional<core::TimePoint> ParseHttpDate(std::string_view text);

}  // namespace kyc_bridge::http
