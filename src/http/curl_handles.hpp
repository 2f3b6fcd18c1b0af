// SPDX-License-Identifier: Apache-2.0
// Private: RAII holders for libcurl handles. The only header that includes curl/curl.h.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace kyc_bridge::http {

struct EasyDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
/// One easy handle. It must be removed from its multi handle before it is destroyed.
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;

struct MultiDeleter {
    void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
/// One multi handle. Every easy handle must be removed from it before it is destroyed.
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;

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
        (void)list_.release();  // `next` is the same list, one node longer
        list_.reset(next);
        return true;
    }
    curl_slist* Get() const { return list_.get(); }

private:
    std::unique_ptr<curl_slist, SlistDeleter> list_;
};

/// Calls curl_global_init once per process, before the first handle is made. Thread-safe.
void EnsureCurlGlobalInit();

}  // namespace kyc_bridge::http
