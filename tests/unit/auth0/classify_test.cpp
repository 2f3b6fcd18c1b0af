// SPDX-License-Identifier: Apache-2.0
// Every status class of the Management and Authentication APIs maps to one error kind.
#include "kyc_bridge/auth0/classify.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

namespace kyc_bridge::auth0 {
namespace {

using core::ErrorKind;
using namespace std::chrono_literals;

const core::TimePoint kNow{std::chrono::seconds{1'800'000'000}};
const Call kUsers{ApiKind::kManagement, "POST /api/v2/users"};
const Call kToken{ApiKind::kTokenEndpoint, "POST /oauth/token"};
const Call kChangePassword{ApiKind::kAuthentication, "POST /dbconnections/change_password"};

http::Response Answer(long status, std::string body = {},
                      std::map<std::string, std::string> headers = {}) {
    return http::Response{status, std::move(headers), std::move(body)};
}

struct Row {
    ApiKind api;
    long status;
    ErrorKind kind;
};

TEST(Classify, MapsEveryStatusClassToItsKind) {
    const Row rows[] = {
        {ApiKind::kManagement, 500, ErrorKind::kTransient},
        {ApiKind::kManagement, 502, ErrorKind::kTransient},
        {ApiKind::kManagement, 503, ErrorKind::kTransient},
        {ApiKind::kManagement, 504, ErrorKind::kTransient},
        {ApiKind::kManagement, 599, ErrorKind::kTransient},
        {ApiKind::kManagement, 408, ErrorKind::kTransient},
        {ApiKind::kManagement, 429, ErrorKind::kRateLimited},
        {ApiKind::kManagement, 401, ErrorKind::kUnauthorized},
        {ApiKind::kManagement, 403, ErrorKind::kConfiguration},
        {ApiKind::kManagement, 400, ErrorKind::kPermanent},
        {ApiKind::kManagement, 404, ErrorKind::kPermanent},
        {ApiKind::kManagement, 422, ErrorKind::kPermanent},
        {ApiKind::kManagement, 409, ErrorKind::kConflict},
        {ApiKind::kManagement, 302, ErrorKind::kTransient},
        {ApiKind::kTokenEndpoint, 401, ErrorKind::kConfiguration},
        {ApiKind::kTokenEndpoint, 403, ErrorKind::kConfiguration},
        {ApiKind::kTokenEndpoint, 400, ErrorKind::kConfiguration},
        {ApiKind::kTokenEndpoint, 429, ErrorKind::kRateLimited},
        {ApiKind::kTokenEndpoint, 503, ErrorKind::kTransient},
        {ApiKind::kTokenEndpoint, 408, ErrorKind::kTransient},
        {ApiKind::kAuthentication, 400, ErrorKind::kPermanent},
        {ApiKind::kAuthentication, 401, ErrorKind::kConfiguration},
        {ApiKind::kAuthentication, 429, ErrorKind::kRateLimited},
        {ApiKind::kAuthentication, 500, ErrorKind::kTransient},
    };
    for (const auto& row : rows) {
        auto error = ClassifyAnswer({row.api, "GET /x"}, Answer(row.status), kNow);
        ASSERT_TRUE(error) << row.status;
        EXPECT_EQ(error->kind, row.kind) << "api " << int(row.api) << " status " << row.status;
        EXPECT_EQ(error->http_status, row.status);
    }
}

TEST(Classify, SuccessIsNoError) {
    for (long status : {200, 201, 204}) EXPECT_FALSE(ClassifyAnswer(kUsers, Answer(status), kNow));
}

TEST(Classify, PermanentCarriesAuth0MessageAndErrorCode) {
    auto error = ClassifyAnswer(
        kUsers,
        Answer(
            400,
            R"({"statusCode":400,"error":"Bad Request","message":"PasswordStrengthError: Password is too weak","errorCode":"invalid_body"})"),
        kNow);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ErrorKind::kPermanent);
    EXPECT_EQ(error->code, "invalid_body");
    EXPECT_NE(error->message.find("POST /api/v2/users"), std::string::npos);
    EXPECT_NE(error->message.find("400"), std::string::npos);
    EXPECT_NE(error->message.find("Password is too weak"), std::string::npos);
}

TEST(Classify, ConflictKeepsAuth0Code) {
    auto error = ClassifyAnswer(
        kUsers,
        Answer(
            409,
            R"({"statusCode":409,"error":"Conflict","message":"The user already exists.","errorCode":"auth0_idp_error"})"),
        kNow);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ErrorKind::kConflict);
    EXPECT_EQ(error->code, "auth0_idp_error");
}

TEST(Classify, TokenEndpointUsesAuthenticationApiBody) {
    auto error = ClassifyAnswer(
        kToken, Answer(401, R"({"error":"access_denied","error_description":"Unauthorized"})"),
        kNow);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ErrorKind::kConfiguration);
    EXPECT_EQ(error->code, "access_denied");
    EXPECT_NE(error->message.find("POST /oauth/token answered 401: Unauthorized"),
              std::string::npos);
}

TEST(Classify, MessagesNeverCarryEmails) {
    auto error = ClassifyAnswer(
        kUsers,
        Answer(
            400,
            R"({"statusCode":400,"message":"Payload validation error: 'Object didn't pass validation for format email: jane.doe' on property email (The user's email). Also jane@example.com","errorCode":"invalid_body"})"),
        kNow);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->message.find("jane"), std::string::npos) << error->message;
    EXPECT_NE(error->message.find("<redacted>"), std::string::npos);
}

TEST(Classify, AMissingUserIsALaggingReadButAMissingRoleIsPermanent) {
    const Call roles{ApiKind::kManagement, "POST /api/v2/users/{id}/roles"};
    auto user = ClassifyAnswer(
        roles, Answer(404, R"({"statusCode":404,"error":"Not Found","message":"The user does not exist.","errorCode":"inexistent_user"})"),
        kNow);
    ASSERT_TRUE(user);
    EXPECT_EQ(user->kind, ErrorKind::kTransient);
    auto role = ClassifyAnswer(
        roles, Answer(404, R"({"statusCode":404,"error":"Not Found","message":"Role not found","errorCode":"inexistent_role"})"),
        kNow);
    ASSERT_TRUE(role);
    EXPECT_EQ(role->kind, ErrorKind::kPermanent);
}

TEST(Classify, EncodedEmailsAreRedactedToo) {
    auto error = ClassifyAnswer(
        kUsers, Answer(400, R"({"statusCode":400,"message":"bad query email=jane%40example.com","errorCode":"invalid_query_string"})"),
        kNow);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->message.find("jane"), std::string::npos) << error->message;
}

TEST(Classify, ResetInMillisecondsOrAsADelayIsReadAndCappedAtAnHour) {
    const std::int64_t now_unix = 1'800'000'000;
    EXPECT_EQ(NormalizeResetSeconds(1'800'000'005'000, now_unix), 1'800'000'005);
    EXPECT_EQ(NormalizeResetSeconds(5, now_unix), now_unix + 5);
    EXPECT_EQ(NormalizeResetSeconds(1'800'000'005, now_unix), 1'800'000'005);
    EXPECT_FALSE(NormalizeResetSeconds(std::nullopt, now_unix));
    auto far = ClassifyAnswer(kUsers, Answer(429, "", {{"retry-after", "999999"}}), kNow);
    ASSERT_TRUE(far && far->not_before);
    EXPECT_EQ(*far->not_before, kNow + kMaxRetryAfter);
}

// Fuzzer findings: hostile reset values and dates overflowed a nanosecond time_point.
TEST(Classify, HugeResetsAndFarDatesAreClampedNotOverflowed) {
    const std::int64_t now_unix = 1'800'000'000;
    EXPECT_EQ(NormalizeResetSeconds(std::numeric_limits<std::int64_t>::max(), now_unix),
              now_unix + 86400);
    EXPECT_EQ(NormalizeResetSeconds(999'999'999'999'999, now_unix), now_unix + 86400);
    for (const char* reset : {"9223372036854775807", "99999999999999999", "253402300799000"}) {
        auto error = ClassifyAnswer(kUsers, Answer(429, "", {{"x-ratelimit-reset", reset}}), kNow);
        ASSERT_TRUE(error && error->not_before) << reset;
        EXPECT_EQ(*error->not_before, kNow + kMaxRetryAfter) << reset;
    }
    auto dated = ClassifyAnswer(
        kUsers, Answer(429, "", {{"retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"}}), kNow);
    ASSERT_TRUE(dated && dated->not_before);
    EXPECT_EQ(*dated->not_before, kNow + kMaxRetryAfter);
}

TEST(Classify, LongMessagesAreCutOnACodePointBoundary) {
    // 299 ASCII bytes, then two-byte characters: byte 300 falls inside one.
    const std::string message = std::string(299, 'a') + "\u00e9\u00e9\u00e9";
    auto error = ClassifyAnswer(
        kUsers, Answer(400, R"({"statusCode":400,"message":")" + message + R"("})"), kNow);
    ASSERT_TRUE(error);
    EXPECT_NO_THROW((void)nlohmann::json(error->message).dump()) << "cut inside a character";
    EXPECT_NE(error->message.find("…"), std::string::npos);
}

TEST(Classify, RateLimitedUsesRetryAfterSeconds) {
    auto error = ClassifyAnswer(
        kChangePassword,
        Answer(429, "", {{"retry-after", "7"}, {"x-ratelimit-reset", "1800000100"}}), kNow);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ErrorKind::kRateLimited);
    ASSERT_TRUE(error->not_before);
    EXPECT_EQ(*error->not_before, kNow + 7s);
}

TEST(Classify, RateLimitedUsesRetryAfterHttpDate) {
    auto error = ClassifyAnswer(
        kUsers, Answer(429, "", {{"retry-after", "Fri, 15 Jan 2027 08:00:30 GMT"}}), kNow);
    ASSERT_TRUE(error);
    ASSERT_TRUE(error->not_before);
    EXPECT_EQ(error->not_before->time_since_epoch(), std::chrono::seconds{1'800'000'030});
}

TEST(Classify, RateLimitedFallsBackToRateLimitReset) {
    auto error = ClassifyAnswer(
        kUsers,
        Answer(
            429,
            R"({"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"})",
            {{"x-ratelimit-reset", "1800000012"}, {"x-ratelimit-remaining", "0"}}),
        kNow);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, "too_many_requests");
    ASSERT_TRUE(error->not_before);
    EXPECT_EQ(error->not_before->time_since_epoch(), std::chrono::seconds{1'800'000'012});
}

TEST(Classify, RateLimitedWithoutHeadersHasNoNotBefore) {
    auto error = ClassifyAnswer(kUsers, Answer(429), kNow);
    ASSERT_TRUE(error);
    EXPECT_FALSE(error->not_before);
}

TEST(Classify, TransportErrorNamesEndpointAndStaysTransient) {
    auto error =
        ClassifyTransportError(kUsers, core::Error::Transient("Timeout was reached", "timeout"));
    EXPECT_EQ(error.kind, ErrorKind::kTransient);
    EXPECT_EQ(error.code, "timeout");
    EXPECT_EQ(error.message.rfind("POST /api/v2/users failed: Timeout was reached", 0), 0u);
}

TEST(Classify, MalformedSuccessIsTransient) {
    auto error = MalformedAnswer(kUsers, 201, "not a user object");
    EXPECT_EQ(error.kind, ErrorKind::kTransient);
    EXPECT_EQ(error.http_status, 201);
}

TEST(RateLimitHeaders, ParsesAllThree) {
    auto h = ParseRateLimitHeaders(Answer(200, "",
                                          {{"x-ratelimit-limit", "50"},
                                           {"x-ratelimit-remaining", "49"},
                                           {"x-ratelimit-reset", "1655086415"}}));
    EXPECT_EQ(h.limit, 50);
    EXPECT_EQ(h.remaining, 49);
    EXPECT_EQ(h.reset_unix, 1655086415);
    EXPECT_TRUE(h.Present());
    EXPECT_FALSE(ParseRateLimitHeaders(Answer(200)).Present());
}

}  // namespace
}  // namespace kyc_bridge::auth0
