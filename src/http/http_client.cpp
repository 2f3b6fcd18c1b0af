// SPDX-License-Identifier: Apache-2.0
// libcurl easy interface behind HttpClient: options, header/body capture, error classification.
#include "kyc_bridge/http/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "curl_handles.hpp"

namespace kyc_bridge::http {
namespace {

constexpr std::size_t kMaxIdleHandles = 32;

struct Capture {
    Response response;
    std::size_t max_body = 0;
    bool too_large = false;
};

std::string Lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view Trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return text;
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

core::Error TransportError(CURLcode code, const char* detail) {
    std::string message = curl_easy_strerror(code);
    if (detail != nullptr && detail[0] != '\0') message += std::string(": ") + detail;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    switch (code) {
        case CURLE_OPERATION_TIMEDOUT: return core::Error::Transient(message, "timeout");
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY: return core::Error::Transient(message, "dns");
        case CURLE_COULDNT_CONNECT: return core::Error::Transient(message, "connect");
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE: return core::Error::Transient(message, "tls");
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL: return ConfigurationError(message, "bad_url");
        default: return core::Error::Transient(message, "transport");
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

// Sets every option of one request; the handle was curl_easy_reset before.
CURLcode Configure(CURL* h, const Request& request, const Options& options, HeaderList& headers,
                   Capture& capture, char* error_buffer) {
    CURLcode rc = CURLE_OK;
    auto set = [&rc](CURLcode result) {
        if (rc == CURLE_OK) rc = result;
    };
    set(curl_easy_setopt(h, CURLOPT_URL, request.url.c_str()));
    set(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
                         options.allow_insecure_http ? "http,https" : "https"));
    set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
    set(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L));
    set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L));
    set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L));
    set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                         static_cast<long>(options.connect_timeout_ms)));
    set(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout_ms)));
    set(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer));
    set(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody));
    set(curl_easy_setopt(h, CURLOPT_WRITEDATA, &capture));
    set(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader));
    set(curl_easy_setopt(h, CURLOPT_HEADERDATA, &capture));
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
    bool allocated = headers.Append("Expect:");  // no 100-continue round trip
    for (const auto& [name, value] : request.headers)
        allocated = allocated && headers.Append(name + ": " + value);
    if (!allocated) return CURLE_OUT_OF_MEMORY;
    set(curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.Get()));
    return rc;
}

}  // namespace

void EnsureCurlGlobalInit() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

const std::string* Response::Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
}

HttpClient::HttpClient(Options options)
    : options_(options), pool_(std::make_unique<HandlePool>(kMaxIdleHandles)) {
    EnsureCurlGlobalInit();
}

HttpClient::~HttpClient() = default;

core::Result<Response> HttpClient::Perform(const Request& request) {
    if (auto bad = CheckScheme(request.url, options_.allow_insecure_http)) return *bad;
    EasyPtr handle = pool_->Take();
    if (!handle) return core::Error::Transient("curl_easy_init failed", "transport");
    curl_easy_reset(handle.get());  // keeps live connections and the DNS cache

    HeaderList headers;
    Capture capture;
    capture.max_body = options_.max_response_bytes;
    char error_buffer[CURL_ERROR_SIZE] = {};
    CURLcode rc = Configure(handle.get(), request, options_, headers, capture, error_buffer);
    if (rc == CURLE_OK) rc = curl_easy_perform(handle.get());
    if (rc == CURLE_OK) {
        curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &capture.response.status);
    }
    // Detach pointers into this stack frame before the handle is pooled.
    curl_easy_setopt(handle.get(), CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(handle.get(), CURLOPT_ERRORBUFFER, nullptr);
    pool_->Give(std::move(handle));

    if (capture.too_large) {
        return core::Error::Transient(
            "response larger than " + std::to_string(options_.max_response_bytes) + " bytes",
            "too_large");
    }
    if (rc != CURLE_OK) return TransportError(rc, error_buffer);
    return std::move(capture.response);
}

std::optional<core::TimePoint> ParseHttpDate(std::string_view text) {
    const std::string copy(Trim(text));
    const time_t seconds = curl_getdate(copy.c_str(), nullptr);
    if (seconds < 0) return std::nullopt;
    return core::TimePoint{std::chrono::seconds{seconds}};
}

}  // namespace kyc_bridge::http
