// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: one Auth0 answer for the response parsers (wire.hpp) and ClassifyAnswer.
//
// Input (seeds: corpus/auth0_response/):
//   bytes 0-1  HTTP status, big-endian: 00 c8 = 200, 01 ad = 429, 01 f4 = 500
//   byte 2     which API answered, modulo 3: 0 Management, 1 token endpoint, 2 Authentication
//   then       header lines "name: value\n", an empty line, and the body; names are
//              lower-cased and values trimmed as HttpClient does, the last value wins. Without
//              an empty line, everything after byte 2 is the body and there are no headers.
// The body goes to ParseUsers, ParseRoles and ParseUser, the whole answer to ClassifyAnswer,
// RetryNotBefore and ParseRateLimitHeaders, the body as a message to ScrubAuth0Message.
// Not reached: the token response ({"access_token","expires_in"}) is parsed inside the private
// HttpAuth0Api::FetchTokenAs, behind an HTTP request; only its body's trip through
// ClassifyAnswer is fuzzed here.
// Findings: a sanitizer report, an exception (none of these throw), or a broken promise of
// classify.hpp: 2xx ⇔ no error, 429 ⇔ kRateLimited, a wait beyond now + kMaxRetryAfter, a
// message that cannot go into JSON (jobs list --json, JSON logs), or an '@' surviving the scrub.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kyc_bridge/auth0/classify.hpp"
#include "wire.hpp"

namespace {

using namespace kyc_bridge;

[[noreturn]] void Finding(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_auth0_response: %s\n%s\n", what, detail.c_str());
    std::abort();
}

std::string_view Trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n";
    const auto begin = text.find_first_not_of(kSpace);
    if (begin == std::string_view::npos) return {};
    return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

std::string Lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// Headers and body after the 3-byte prefix, in the format of the file comment.
void ReadAnswer(std::string_view rest, http::Response& response) {
    const auto blank = rest.find("\n\n");
    if (blank == std::string_view::npos) {
        response.body = std::string(rest);
        return;
    }
    std::string_view head = rest.substr(0, blank + 1);
    response.body = std::string(rest.substr(blank + 2));
    while (!head.empty()) {
        const auto eol = head.find('\n');
        const std::string_view line = head.substr(0, eol);
        head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 1);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        response.headers[Lower(Trim(line.substr(0, colon)))] = std::string(Trim(line.substr(colon + 1)));
    }
}

void CheckJsonSafe(const char* what, const std::string& text) {
    try {
        (void)nlohmann::json(text).dump();
    } catch (const nlohmann::json::exception& e) {
        Finding(what, std::string(e.what()) + "\n" + text);
    }
}

void FuzzParsers(const std::string& body) {
    (void)auth0::wire::ParseUsers(body);
    (void)auth0::wire::ParseRoles(body);
    (void)auth0::wire::ParseUser(nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false));
}

void FuzzClassify(auth0::ApiKind api, const http::Response& response) {
    // FakeClock's default start: 2027-01-15, a fixed "now" so that a finding reproduces.
    const core::TimePoint now{std::chrono::seconds{1'800'000'000}};
    const auth0::Call call{api, "GET /api/v2/users/{id}"};
    const auto error = auth0::ClassifyAnswer(call, response, now);
    const bool is_2xx = response.status >= 200 && response.status < 300;
    if (is_2xx == error.has_value()) Finding("2xx ⇔ no error broken", std::to_string(response.status));
    if (error) {
        if ((error->kind == core::ErrorKind::kRateLimited) != (response.status == 429)) {
            Finding("429 ⇔ kRateLimited broken", error->message);
        }
        if (error->not_before && *error->not_before > now + auth0::kMaxRetryAfter) {
            Finding("not_before beyond kMaxRetryAfter", error->message);
        }
        if (error->message.empty() || error->code.empty()) Finding("error without message or code", "");
        CheckJsonSafe("ClassifyAnswer message is not valid UTF-8", error->message);
    }
    if (auto at = auth0::RetryNotBefore(response, now); at && *at > now + auth0::kMaxRetryAfter) {
        Finding("RetryNotBefore beyond kMaxRetryAfter", "");
    }
    (void)auth0::ParseRateLimitHeaders(response);
}

void FuzzScrub(const std::string& body) {
    const std::string scrubbed = auth0::ScrubAuth0Message(body);
    if (scrubbed.find('@') != std::string::npos) Finding("'@' survived ScrubAuth0Message", scrubbed);
    if (scrubbed.size() > 300 + std::string_view("…").size()) {
        Finding("ScrubAuth0Message longer than its cap", std::to_string(scrubbed.size()));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return -1;
    http::Response response;
    response.status = (static_cast<long>(data[0]) << 8) | data[1];
    const auto api = static_cast<auth0::ApiKind>(data[2] % 3);
    ReadAnswer(std::string_view(reinterpret_cast<const char*>(data) + 3, size - 3), response);
    FuzzParsers(response.body);
    FuzzClassify(api, response);
    FuzzScrub(response.body);
    return 0;
}
