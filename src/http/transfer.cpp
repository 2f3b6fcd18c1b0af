// SPDX-License-Identifier: Apache-2.0
// One request's easy handle: options, header/body capture, error classification.
#include "transfer.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

namespace kyc_bridge::http {
namespace {

std::string Lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// No exception may cross these callbacks: they only touch preallocated strings, and a failed
// allocation is reported to libcurl as a short write.
size_t OnBody(char* data, size_t size, size_t count, void* user) noexcept {
    auto* capture = static_cast<Capture*>(user);
    const size_t bytes = size * count;
    if (capture->response.body.size() + bytes > capture->max_body) {
        capture->too_large = true;
        return 0;
    }
    try {
        capture->response.body.append(data, bytes);
    } catch (...) {
        return 0;
    }
    return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) noexcept {
    auto* capture = static_cast<Capture*>(user);
    const size_t bytes = size * count;
    std::string_view line(data, bytes);
    try {
        if (line.rfind("HTTP/", 0) == 0) {
            capture->response.headers.clear();  // a new response (after 1xx) starts
            return bytes;
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return bytes;
        capture->response.headers[Lower(Trim(line.substr(0, colon)))] =
            std::string(Trim(line.substr(colon + 1)));
    } catch (...) {
        return 0;
    }
    return bytes;
}

core::Error ConfigurationError(std::string message, std::string code) {
    return core::Error{core::ErrorKind::kConfiguration, std::move(message), std::move(code), 0,
                       std::nullopt};
}

// "scheme://host:port" of a URL: what an operator needs to find a TLS or DNS problem, without
// the path or query (which may hold an email).
std::string HostOf(const std::string& url) {
    auto start = url.find("://");
    if (start == std::string::npos) return "";
    auto end = url.find_first_of("/?#", start + 3);
    return url.substr(start + 3, end == std::string::npos ? std::string::npos : end - start - 3);
}

// A certificate that does not verify or a name that does not resolve fails every request the
// same way until someone fixes the configuration (CA bundle, domain): kConfiguration pauses
// provisioning instead of spending each job's attempts. A handshake reset (CURLE_SSL_CONNECT_ERROR)
// and a refused connection stay transient. Codes: https://curl.se/libcurl/c/libcurl-errors.html
core::Error TransportError(CURLcode code, const char* detail, const std::string& host = "") {
    std::string message = curl_easy_strerror(code);
    if (detail != nullptr && detail[0] != '\0') message += std::string(": ") + detail;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    if (!host.empty()) message += " (host " + host + ")";
    switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
            return core::Error::Transient(message, "timeout");
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            return ConfigurationError(message, "dns");
        case CURLE_COULDNT_CONNECT:
            return core::Error::Transient(message, "connect");
        case CURLE_SSL_CONNECT_ERROR:
            return core::Error::Transient(message, "tls_handshake");
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return ConfigurationError(message, "tls");
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            return ConfigurationError(message, "bad_url");
        default:
            return core::Error::Transient(message, "transport");
    }
}

// Scheme check before libcurl sees the URL, so the error says which option to change.
std::optional<core::Error> CheckScheme(const std::string& url, bool allow_http) {
    const std::string lower = Lower(url.substr(0, 8));
    if (lower.rfind("https://", 0) == 0) return std::nullopt;
    if (lower.rfind("http://", 0) == 0) {
        if (allow_http) return std::nullopt;
        return ConfigurationError(
            "http:// URL refused; use https:// (allow_insecure_http is only for tests and the "
            "local emulator)",
            "insecure_url");
    }
    return ConfigurationError("URL must start with https://", "bad_url");
}

// HTTP/2 where TLS offers it (ALPN), HTTP/1.1 keep-alive otherwise. PIPEWAIT makes a request
// wait for a connection that may multiplex rather than open one more.
CURLcode ConfigureVersion(CURL* h, const Options& options) {
    if (!options.http2) return curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    CURLcode rc = curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    return rc;
}

// Sets every option of one request on a fresh handle; libcurl keeps pointers into `t`.
CURLcode Configure(Transfer& t, const Options& options) {
    CURL* h = t.easy.get();
    const Request& request = t.request;
    CURLcode rc = CURLE_OK;
    auto set = [&rc](CURLcode result) {
        if (rc == CURLE_OK) rc = result;
    };
    set(curl_easy_setopt(h, CURLOPT_PRIVATE, &t));
    set(curl_easy_setopt(h, CURLOPT_URL, request.url.c_str()));
    set(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
                         options.allow_insecure_http ? "http,https" : "https"));
    set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
    set(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L));
    set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L));
    set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L));
    if (!options.ca_file.empty()) {
        // CAINFO replaces the default bundle file; the system's hashed CA directory (CAPATH,
        // left at libcurl's default) still answers, so the file adds to the system's trust.
        set(curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str()));
    }
    set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                         static_cast<long>(options.connect_timeout_ms)));
    set(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout_ms)));
    set(ConfigureVersion(h, options));
    set(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t.error_buffer));
    set(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody));
    set(curl_easy_setopt(h, CURLOPT_WRITEDATA, &t.capture));
    set(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader));
    set(curl_easy_setopt(h, CURLOPT_HEADERDATA, &t.capture));
    set(curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""));
    if (request.method == "GET") {
        set(curl_easy_setopt(h, CURLOPT_HTTPGET, 1L));
    } else {
        set(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.body.size())));
        set(curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data()));
        if (request.method != "POST") {
            set(curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str()));
        }
    }
    bool allocated = t.headers.Append("Expect:");  // no 100-continue round trip
    for (const auto& [name, value] : request.headers)
        allocated = allocated && t.headers.Append(name + ": " + value);
    if (!allocated) return CURLE_OUT_OF_MEMORY;
    set(curl_easy_setopt(h, CURLOPT_HTTPHEADER, t.headers.Get()));
    return rc;
}

}  // namespace

std::string_view Trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return text;
}

std::unique_ptr<Transfer> MakeTransfer(Request request, const Options& options,
                                       ResponseCallback done) {
    auto t = std::make_unique<Transfer>();
    t->request = std::move(request);
    t->done = std::move(done);
    t->capture.max_body = options.max_response_bytes;
    if (auto bad = CheckScheme(t->request.url, options.allow_insecure_http)) {
        t->failed = std::move(*bad);
        return t;
    }
    EnsureCurlGlobalInit();
    t->easy.reset(curl_easy_init());
    if (!t->easy) {
        t->failed = core::Error::Transient("curl_easy_init failed", "transport");
        return t;
    }
    if (CURLcode rc = Configure(*t, options); rc != CURLE_OK) {
        t->failed = TransportError(rc, t->error_buffer);
    }
    return t;
}

core::Result<Response> Finish(Transfer& transfer, CURLcode code) {
    if (transfer.capture.too_large) {
        return core::Error::Transient(
            "response larger than " + std::to_string(transfer.capture.max_body) + " bytes",
            "too_large");
    }
    if (code != CURLE_OK) return TransportError(code, transfer.error_buffer, HostOf(transfer.request.url));
    curl_easy_getinfo(transfer.easy.get(), CURLINFO_RESPONSE_CODE,
                      &transfer.capture.response.status);
    return std::move(transfer.capture.response);
}

core::Error ShutdownError(bool sent) {
    // Callers tell the two apart: an abandoned request may have reached the server (its effect
    // is unknown), one that never left the process did not.
    if (!sent) return core::Error::Transient("shutdown: request not sent", "shutdown_unsent");
    return core::Error::Transient("shutdown: request abandoned", "shutdown");
}

}  // namespace kyc_bridge::http
