// SPDX-License-Identifier: Apache-2.0
// HttpClient: requests handed to the event loop, the blocking Perform wrapper, HTTP dates.
#include "kyc_bridge/http/http_client.hpp"

#include <algorithm>
#include <cassert>
#include <future>
#include <mutex>

#include "curl_handles.hpp"
#include "event_loop.hpp"
#include "transfer.hpp"

namespace kyc_bridge::http {

void EnsureCurlGlobalInit() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

const std::string* Response::Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
}

HttpClient::HttpClient(Options options)
    : options_(options), loop_(std::make_unique<EventLoop>(options_)) {}

HttpClient::~HttpClient() { Shutdown(); }

void HttpClient::Start(Request request, ResponseCallback done) {
    loop_->Submit(MakeTransfer(std::move(request), options_, std::move(done)));
}

core::Result<Response> HttpClient::Perform(const Request& request) {
    // The loop thread would wait for an answer that only it can deliver.
    assert(!loop_->OnLoopThread() && "HttpClient::Perform called from a ResponseCallback");
    // Shared: the loop thread may still be inside set_value when get() returns here.
    auto answer = std::make_shared<std::promise<core::Result<Response>>>();
    std::future<core::Result<Response>> future = answer->get_future();
    Start(request,
          [answer](core::Result<Response> result) { answer->set_value(std::move(result)); });
    return future.get();
}

void HttpClient::Shutdown() { loop_->Stop(); }

std::size_t HttpClient::in_flight() const { return loop_->in_flight(); }

std::optional<core::TimePoint> ParseHttpDate(std::string_view text) {
    const std::string copy(Trim(text));
    const time_t seconds = curl_getdate(copy.c_str(), nullptr);
    if (seconds < 0) return std::nullopt;
    // Year-9999 dates are valid HTTP dates but overflow a nanosecond time_point (past 2262):
    // nobody waits that long, so anything after 2200-01-01 reads as 2200-01-01.
    constexpr time_t kLatest = 7'258'118'400;
    return core::TimePoint{std::chrono::seconds{std::min<time_t>(seconds, kLatest)}};
}

}  // namespace kyc_bridge::http
