// SPDX-License-Identifier: Apache-2.0
// Private: RAII holders for libcurl handles. The only header that includes curl/curl.h.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include <curl/curl.h>

#include "kyc_bridge/http/http_client.hpp"

namespace kyc_bridge::http {

struct EasyDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

/// Owns a curl_slist built by Append; Get() stays owned by the holder.
class HeaderList {
public:
    /// Returns false when libcurl could not allocate.
    [[nodiscard]] bool Append(const std::string& line) {
        curl_slist* next = curl_slist_append(list_.get(), line.c_str());
        if (next == nullptr) return false;
        list_.release();
        list_.reset(next);
        return true;
    }
    curl_slist* Get() const { return list_.get(); }

private:
    std::unique_ptr<curl_slist, SlistDeleter> list_;
};

/// Calls curl_global_init once per process, before the first handle is made.
void EnsureCurlGlobalInit();

/// Idle easy handles, kept so that their connections stay open between requests.
class HandlePool {
public:
    explicit HandlePool(std::size_t max_idle) : max_idle_(max_idle) {}

    /// An idle handle, or a new one; null if libcurl could not allocate.
    EasyPtr Take() {
        {
            std::lock_guard lock(mutex_);
            if (!idle_.empty()) {
                EasyPtr handle = std::move(idle_.back());
                idle_.pop_back();
                return handle;
            }
        }
        EnsureCurlGlobalInit();
        return EasyPtr(curl_easy_init());
    }

    void Give(EasyPtr handle) {
        std::lock_guard lock(mutex_);
        if (idle_.size() < max_idle_) idle_.push_back(std::move(handle));
    }

private:
    std::mutex mutex_;
    std::vector<EasyPtr> idle_;
    std::size_t max_idle_;
};

}  // namespace kyc_bridge::http
