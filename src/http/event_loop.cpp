// SPDX-License-Identifier: Apache-2.0
// The multi-interface loop: add queued handles, perform, hand finished transfers to callbacks.
#include "event_loop.hpp"

#include <cassert>
#include <stdexcept>
#include <utility>

namespace kyc_bridge::http {
namespace {

// curl_multi_poll also returns at libcurl's own next timeout and at curl_multi_wakeup, so this
// only bounds an idle wait.
constexpr int kIdlePollMs = 1000;

// Which loop, if any, runs on this thread: lets Perform and Stop detect a call from a callback.
thread_local const EventLoop* current_loop = nullptr;

MultiPtr MakeMulti(const Options& options) {
    EnsureCurlGlobalInit();
    MultiPtr multi(curl_multi_init());
    if (!multi) throw std::runtime_error("curl_multi_init failed (out of memory?)");
    CURLMcode rc = curl_multi_setopt(multi.get(), CURLMOPT_PIPELINING,
                                     options.http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
    if (rc == CURLM_OK && options.max_connections > 0) {
        rc =
            curl_multi_setopt(multi.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS, options.max_connections);
    }
    if (rc != CURLM_OK) {
        throw std::runtime_error(std::string("curl_multi_setopt failed: ") +
                                 curl_multi_strerror(rc));
    }
    return multi;
}

}  // namespace

EventLoop::EventLoop(const Options& options)
    : multi_(MakeMulti(options)), thread_([this] { Run(); }) {}

EventLoop::~EventLoop() { Stop(); }

bool EventLoop::OnLoopThread() const { return current_loop == this; }

void EventLoop::Submit(std::unique_ptr<Transfer> transfer) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) queue_.push_back(std::move(transfer));
    }
    if (!transfer) {
        curl_multi_wakeup(multi_.get());  // a wakeup outside curl_multi_poll is kept for the next
        return;
    }
    Complete(std::move(transfer), ShutdownError(/*sent=*/false));
}

void EventLoop::Stop() {
    assert(!OnLoopThread() && "HttpClient::Shutdown called from a ResponseCallback");
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    curl_multi_wakeup(multi_.get());
    std::lock_guard join(join_mutex_);
    if (thread_.joinable()) thread_.join();
}

void EventLoop::Run() noexcept {
    current_loop = this;
    while (AddQueued()) {
        int running = 0;
        curl_multi_perform(multi_.get(), &running);
        CompleteFinished();
        curl_multi_poll(multi_.get(), nullptr, 0, kIdlePollMs, nullptr);
    }
    AbandonRunning();
}

bool EventLoop::AddQueued() {
    std::vector<std::unique_ptr<Transfer>> batch;
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        batch.swap(queue_);
        stopping = stopping_;  // read with the swap: nothing is queued after this when true
    }
    for (auto& transfer : batch) {
        if (stopping) {
            Complete(std::move(transfer), ShutdownError(/*sent=*/false));
        } else if (transfer->failed) {
            core::Error error = std::move(*transfer->failed);
            Complete(std::move(transfer), std::move(error));
        } else if (CURLMcode rc = curl_multi_add_handle(multi_.get(), transfer->easy.get());
                   rc != CURLM_OK) {
            Complete(std::move(transfer),
                     core::Error::Transient(curl_multi_strerror(rc), "transport"));
        } else {
            Transfer* key = transfer.get();
            running_.emplace(key, std::move(transfer));
        }
    }
    return !stopping;
}

void EventLoop::CompleteFinished() {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_.get(), &left)) {
        if (message->msg != CURLMSG_DONE) continue;
        // The message does not survive curl_multi_remove_handle: copy what is needed first.
        CURL* easy = message->easy_handle;
        const CURLcode code = message->data.result;
        Transfer* key = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &key);
        curl_multi_remove_handle(multi_.get(), easy);
        auto node = running_.extract(key);
        assert(!node.empty());
        core::Result<Response> result = Finish(*node.mapped(), code);
        Complete(std::move(node.mapped()), std::move(result));
    }
}

void EventLoop::AbandonRunning() {
    auto abandoned = std::move(running_);
    running_.clear();
    for (auto& [key, transfer] : abandoned) {
        curl_multi_remove_handle(multi_.get(), transfer->easy.get());
    }
    for (auto& [key, transfer] : abandoned) {
        Complete(std::move(transfer), ShutdownError(/*sent=*/true));
    }
}

// noexcept: a callback that throws is a bug in the caller and ends the process.
void EventLoop::Complete(std::unique_ptr<Transfer> transfer,
                         core::Result<Response> result) noexcept {
    ResponseCallback done = std::move(transfer->done);
    transfer.reset();  // the easy handle is out of the multi handle (or never was in it)
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    done(std::move(result));
}

}  // namespace kyc_bridge::http
