// SPDX-License-Identifier: Apache-2.0
// Status → error kind for the Management and Authentication APIs, and rate-limit header parsing.
#include "kyc_bridge/auth0/classify.hpp"

#include <cctype>
#include <charconv>

#include <nlohmann/json.hpp>

#include "kyc_bridge/core/clock.hpp"

namespace kyc_bridge::auth0 {
namespace {

using core::ErrorKind;
constexpr std::size_t kMaxMessage = 300;

std::optional<std::int64_t> ParseInt(const std::string* text) {
    if (text == nullptr) return std::nullopt;
    std::int64_t value = 0;
    const char* begin = text->data();
    const char* end = begin + text->size();
    while (begin < end && std::isspace(static_cast<unsigned char>(*begin))) ++begin;
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc{} || ptr == begin) return std::nullopt;
    return value;
}

// Auth0's own words from an error body: Management API {statusCode,error,message,errorCode}
// (auth0-facts §3), Authentication API {error,error_description} (§2). Empty if not JSON.
struct Auth0Words {
    std::string message;
    std::string code;
};

Auth0Words ReadBody(ApiKind api, const std::string& body) {
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) return {};
    auto text = [&json](const char* key) {
        auto it = json.find(key);
        return it != json.end() && it->is_string() ? it->get<std::string>() : std::string{};
    };
    if (api == ApiKind::kManagement) {
        std::string message = text("message");
        if (message.empty()) message = text("error");
        return {message, text("errorCode")};
    }
    return {text("error_description"), text("error")};
}

ErrorKind KindOf(ApiKind api, long status) {
    if (status == 408 || status >= 500) return ErrorKind::kTransient;
    if (status == 429) return ErrorKind::kRateLimited;
    if (status < 400) return ErrorKind::kTransient;  // 1xx/3xx: not an answer we can act on
    if (api == ApiKind::kTokenEndpoint) {
        // The token request carries no job data: any 4xx is wrong credentials, audience or
        // grant (401 invalid_client, 403 access_denied "create a client-grant", auth0-facts §2).
        return ErrorKind::kConfiguration;
    }
    if (status == 401) {
        return api == ApiKind::kManagement ? ErrorKind::kUnauthorized : ErrorKind::kConfiguration;
    }
    if (status == 403) return ErrorKind::kConfiguration;  // "Insufficient scope" (OAS 403)
    if (status == 409) return ErrorKind::kConflict;
    return ErrorKind::kPermanent;
}

// What an operator can do about it. Nothing for the kinds that are retried: whether a job is
// retried is the retry policy's call, and a "will retry" kept in a failed job's last_error
// would be false.
const char* Hint(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::kTransient:
        case ErrorKind::kRateLimited:
        case ErrorKind::kUnauthorized: return "";
        case ErrorKind::kConfiguration:
            return "check auth0.client_id/client_secret/audience, the client grant and its scopes";
        case ErrorKind::kPermanent:
            return "the request was refused; fix the data and replay the job";
        case ErrorKind::kConflict: return "the user already exists";
    }
    return "";
}

}  // namespace

constexpr std::int64_t kMaxResetAheadSeconds = 86400;

std::optional<std::int64_t> NormalizeResetSeconds(std::optional<std::int64_t> raw,
                                                  std::int64_t now_unix) {
    if (!raw || *raw < 0) return std::nullopt;
    // Auth0 sends UNIX seconds (auth0-facts §1). Stand-ins have been seen to send milliseconds
    // or a delay in seconds; read those too rather than waiting until the year 2163.
    std::int64_t reset = *raw;
    if (reset > 100'000'000'000) reset /= 1000;
    else if (reset < 1'000'000'000) reset = now_unix + reset;
    // No caller waits more than an hour, and a nanosecond time_point overflows past 2262: clamp
    // here, in seconds, before anyone converts a hostile header into a TimePoint.
    return std::min(reset, now_unix + kMaxResetAheadSeconds);
}

RateLimitHeaders ParseRateLimitHeaders(const http::Response& response) {
    const auto now_unix = core::ToUnixMillis(std::chrono::system_clock::now()) / 1000;
    return {ParseInt(response.Header("x-ratelimit-limit")),
            ParseInt(response.Header("x-ratelimit-remaining")),
            NormalizeResetSeconds(ParseInt(response.Header("x-ratelimit-reset")), now_unix)};
}

std::optional<core::TimePoint> RetryNotBefore(const http::Response& response, core::TimePoint now) {
    // Honoured, but not beyond an hour: a stand-in's nonsense must not park a job for days.
    auto capped = [&](core::TimePoint at) { return std::min(at, now + kMaxRetryAfter); };
    if (const std::string* retry_after = response.Header("retry-after")) {
        if (auto seconds = ParseInt(retry_after); seconds && *seconds >= 0) {
            return capped(now + std::chrono::seconds{std::min<std::int64_t>(*seconds, 86400)});
        }
        if (auto date = http::ParseHttpDate(*retry_after)) return capped(*date);
    }
    const auto now_unix = core::ToUnixMillis(now) / 1000;
    if (auto reset = NormalizeResetSeconds(ParseInt(response.Header("x-ratelimit-reset")), now_unix)) {
        return capped(core::TimePoint{std::chrono::seconds{*reset}});
    }
    return std::nullopt;
}

std::optional<core::Error> ClassifyAnswer(const Call& call, const http::Response& response,
                                          core::TimePoint now) {
    const long status = response.status;
    if (status >= 200 && status < 300) return std::nullopt;
    ErrorKind kind = KindOf(call.api, status);
    Auth0Words words = ReadBody(call.api, response.body);
    // A user we just created or found that "does not exist" is a lagging read, not bad data:
    // retried (a role that does not exist stays permanent).
    if (status == 404 && call.api == ApiKind::kManagement &&
        (words.code == "inexistent_user" ||
         words.message.find("user does not exist") != std::string::npos)) {
        kind = ErrorKind::kTransient;
    }
    std::string message = call.endpoint + " answered " + std::to_string(status);
    if (!words.message.empty()) message += ": " + ScrubAuth0Message(words.message);
    if (!words.code.empty()) message += " (" + words.code + ")";
    if (*Hint(kind) != '\0') message += std::string("; ") + Hint(kind);

    core::Error error{kind, std::move(message), words.code, static_cast<int>(status), std::nullopt};
    if (error.code.empty()) error.code = "http_" + std::to_string(status);
    if (kind == ErrorKind::kRateLimited) error.not_before = RetryNotBefore(response, now);
    return error;
}

core::Error ClassifyTransportError(const Call& call, const core::Error& transport) {
    core::Error error = transport;
    error.message = call.endpoint + " failed: " + transport.message;
    return error;
}

core::Error MalformedAnswer(const Call& call, long status, std::string_view what) {
    return core::Error{ErrorKind::kTransient,
                       call.endpoint + " answered " + std::to_string(status) +
                           " with an unexpected body (" + std::string(what) + "); will retry",
                       "malformed_answer", static_cast<int>(status), std::nullopt};
}

std::string ScrubAuth0Message(std::string_view message) {
    std::string out;
    // Payload validation errors quote the refused value: "…format email: X' on property email".
    constexpr std::string_view kQuoted = "format email: ";
    std::string text(message.substr(0, 4 * kMaxMessage));
    for (auto pos = text.find(kQuoted); pos != std::string::npos;
         pos = text.find(kQuoted, pos + 1)) {
        const auto start = pos + kQuoted.size();
        auto end = text.find('\'', start);
        if (end == std::string::npos) end = text.size();
        text.replace(start, end - start, "<redacted>");
    }
    // Any word with an '@' is treated as an email address.
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = i;
        while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
        std::string_view word(text.data() + i, j - i);
        const bool email_like = word.find('@') != std::string_view::npos ||
                                word.find("%40") != std::string_view::npos;
        out += email_like ? "<redacted>" : std::string(word);
        while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j])))
            out += text[j++];
        i = j;
    }
    if (out.size() > kMaxMessage) {
        // Cut on a code-point boundary: half a UTF-8 character makes the message invalid JSON
        // text for `jobs list --json` and the logs.
        std::size_t cut = kMaxMessage;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
        out = out.substr(0, cut) + "…";
    }
    return out;
}

}  // namespace kyc_bridge::auth0
