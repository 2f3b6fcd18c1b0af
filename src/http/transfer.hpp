// SPDX-License-Identifier: Apache-2.0
// Private: one request's easy handle and everything libcurl points into until it completes.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "curl_handles.hpp"
#include "kyc_bridge/core/ids.hpp"
#include "kyc_bridge/http/http_client.hpp"

namespace kyc_bridge::http {

/// The answer as libcurl delivers it, bounded by Options::max_response_bytes.
struct Capture {
    Response response;
    std::size_t max_body = 0;
    bool too_large = false;
};

/// One request from Start to its callback. libcurl keeps pointers into it (URL, body — POSTFIELDS
/// does not copy —, headers, capture, error buffer), so it lives on the heap, never moves, and
/// the easy handle's CURLOPT_PRIVATE points back at it. Used by one thread at a time.
struct Transfer {
    Request request;
    ResponseCallback done;
    std::optional<core::Error> failed;  ///< set: completes without reaching libcurl
    HeaderList headers;
    Capture capture;
    char error_buffer[CURL_ERROR_SIZE] = {};
    EasyPtr easy;  ///< last member: cleaned up first, while what it points into still lives

    // Bodies carry the client secret (token requests) and initial passwords (creates).
    ~Transfer() { core::Cleanse(request.body); }
};

/// A transfer ready for curl_multi_add_handle, or one with `failed` set (a URL that is malformed
/// or not allowed, or libcurl out of memory). Never throws except std::bad_alloc.
std::unique_ptr<Transfer> MakeTransfer(Request request, const Options& options,
                                       ResponseCallback done);

/// The classified answer of a transfer libcurl finished with `code` (CURLMSG_DONE): the response
/// whatever its status, or kTransient/kConfiguration as HttpClient::Start documents.
core::Result<Response> Finish(Transfer& transfer, CURLcode code);

/// `text` without leading and trailing white space.
std::string_view Trim(std::string_view text);

/// The error every transfer ended by HttpClient::Shutdown gets.
core::Error ShutdownError(bool sent);

}  // namespace kyc_bridge::http
