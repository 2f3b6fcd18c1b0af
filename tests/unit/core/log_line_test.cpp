// SPDX-License-Identifier: Apache-2.0
// Log messages: redaction of personal data, key=value splitting, JSON lines that always parse.
#include "kyc_bridge/core/log_line.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kyc_bridge::core {
namespace {

using nlohmann::json;

json Line(std::string_view message) {
    auto text = JsonLogLine("2026-12-02T10:00:00.000+0000", "info", "provisioner", message);
    EXPECT_EQ(text.find('\n'), std::string::npos) << text;
    return json::parse(text);  // throws (fails the test) on invalid JSON
}

TEST(JsonLogLine, HasTimeLevelComponentAndMsg) {
    auto line = Line("event=job_done job_id=5");
    EXPECT_EQ(line["time"], "2026-12-02T10:00:00.000+0000");
    EXPECT_EQ(line["level"], "info");
    EXPECT_EQ(line["component"], "provisioner");
    EXPECT_EQ(line["msg"], "job_done");
    EXPECT_EQ(line["event"], "job_done");
}

TEST(JsonLogLine, FieldsBecomeMembers) {
    auto line = Line(R"(event=job_done job_id=5 customer_id=007 auth0_user_id=auth0|c1 )"
                     R"(attempts=2 duration_ms=-3 error="x \"y\" \\z" empty= hint="two words")");
    EXPECT_EQ(line["job_id"], "5");  // ids stay strings, whatever they look like
    EXPECT_EQ(line["customer_id"], "007");
    EXPECT_EQ(line["auth0_user_id"], "auth0|c1");
    EXPECT_EQ(line["attempts"], 2);
    EXPECT_EQ(line["duration_ms"], -3);
    EXPECT_EQ(line["error"], R"(x "y" \z)");
    EXPECT_EQ(line["empty"], "");
    EXPECT_EQ(line["hint"], "two words");
}

TEST(JsonLogLine, QuotedNumbersAndOddIntegersStayStrings) {
    auto line = Line(R"(a="5" b=05 c=1.5 d=12345678901234567890 e=-)");
    EXPECT_EQ(line["a"], "5");
    EXPECT_EQ(line["b"], "05");
    EXPECT_EQ(line["c"], "1.5");
    EXPECT_EQ(line["d"], "12345678901234567890");
    EXPECT_EQ(line["e"], "-");
}

TEST(JsonLogLine, UnescapedQuoteInsideAValueIsKept) {
    // A Kafka reason pasted between quotes as it is: the value ends at the quote before a key.
    auto line = Line(R"(event=kafka_error code=_TRANSPORT reason="broker "b1" is "down"" n=1)");
    EXPECT_EQ(line["reason"], R"(broker "b1" is "down")");
    EXPECT_EQ(line["n"], 1);
    EXPECT_EQ(line["code"], "_TRANSPORT");
}

TEST(JsonLogLine, WordsThatAreNotFieldsGoToMsg) {
    auto line = Line("Connect to ipv4#127.0.0.1:9092 failed event=x");
    EXPECT_EQ(line["msg"], "Connect to ipv4#127.0.0.1:9092 failed");
    EXPECT_EQ(line["event"], "x");
    EXPECT_EQ(Line("")["msg"], "");
    EXPECT_EQ(Line("=oops \"lone")["msg"], "=oops \"lone");
}

TEST(JsonLogLine, UnterminatedQuoteTakesTheRest) {
    auto line = Line(R"(event=x error="no end here)");
    EXPECT_EQ(line["error"], "no end here");
}

TEST(JsonLogLine, ReservedAndRepeatedKeysStayUnique) {
    auto text = JsonLogLine("t", "info", "c", "msg=a level=b time=c component=d k=1 k=2");
    auto line = json::parse(text);
    EXPECT_EQ(line["level"], "info");
    EXPECT_EQ(line["msg_2"], "a");
    EXPECT_EQ(line["level_2"], "b");
    EXPECT_EQ(line["time_2"], "c");
    EXPECT_EQ(line["component_2"], "d");
    EXPECT_EQ(line["k"], 1);
    EXPECT_EQ(line["k_2"], 2);
    EXPECT_EQ(text.find("\"k\":1"), text.rfind("\"k\":1"));
}

TEST(JsonLogLine, EscapesControlCharactersAndBackslashes) {
    std::string message =
        "event=x error=\"a\nb\tc\rd\x01"
        "e\x1f"
        "f\x7f\\g\"";
    message += std::string(1, '\0') + " tail";
    auto text = JsonLogLine("t", "info", "c", message);
    for (char c : text) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << text;
    auto line = json::parse(text);
    EXPECT_EQ(line["error"],
              "a\nb\tc\rd\x01"
              "e\x1f"
              "f\x7f\\g");
    EXPECT_NE(line["msg"].get<std::string>().find("tail"), std::string::npos);
}

TEST(JsonLogLine, InvalidUtf8BecomesReplacementCharacters) {
    const std::string bad[] = {"\xff",         "\xc3",         "\xc0\xaf",
                               "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                               "\xf0\x9f\x98", "\x80"};
    for (const auto& bytes : bad) {
        auto line = Line("event=x v=\"" + bytes + "\" w=" + bytes);
        EXPECT_NE(line["v"].get<std::string>().find("\xef\xbf\xbd"), std::string::npos);
    }
    auto line = Line("event=x v=\"Jürgen 😀 中\"");
    EXPECT_EQ(line["v"], "Jürgen 😀 中");  // valid UTF-8 is kept as it is
}

TEST(JsonLogLine, EveryByteSequenceParses) {
    // Every byte value in every position a message can put it in.
    for (int b = 0; b < 256; ++b) {
        const std::string c(1, static_cast<char>(b));
        for (const auto& message : {c, "k=" + c, "k=\"" + c + "\"", "k=\"" + c, c + "=v",
                                    "event=x " + c + c + " y=\"\\" + c + "\""}) {
            EXPECT_NO_THROW(Line(message)) << "byte " << b << " in " << message;
        }
    }
}

TEST(ParseLogFields, SplitsHouseStyleLines) {
    auto parsed = ParseLogFields(R"(event=a  x=1 free text y="q \"v\"" )");
    ASSERT_EQ(parsed.fields.size(), 3u);
    EXPECT_EQ(parsed.fields[0].key, "event");
    EXPECT_EQ(parsed.fields[1].value, "1");
    EXPECT_FALSE(parsed.fields[1].quoted);
    EXPECT_EQ(parsed.fields[2].value, R"(q "v")");
    EXPECT_TRUE(parsed.fields[2].quoted);
    EXPECT_EQ(parsed.rest, "free text");
}

TEST(RedactPersonalData, RemovesEmailsAlsoUrlEncoded) {
    EXPECT_EQ(RedactPersonalData("user a.b+c@example.co.uk exists"), "user <redacted> exists");
    EXPECT_EQ(RedactPersonalData("GET /users-by-email?email=jane.doe%40example.com"),
              "GET /users-by-email?email=<redacted>");
    EXPECT_EQ(RedactPersonalData("error=\"'x@y.z' on property email\""),
              "error=\"<redacted>' on property email\"");
    // An '@' alone is not an email.
    EXPECT_EQ(RedactPersonalData("a @ b, x@ and @y"), "a @ b, x@ and @y");
}

TEST(RedactPersonalData, RemovesTokensTicketsAndSecrets) {
    const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    EXPECT_EQ(RedactPersonalData("token " + jwt + " refused"), "token <redacted> refused");
    EXPECT_EQ(RedactPersonalData("Authorization: Bearer abc.def-ghi"),
              "Authorization: <redacted> <redacted>");
    EXPECT_EQ(RedactPersonalData("bearer abcdefghij"), "bearer <redacted>");
    EXPECT_EQ(RedactPersonalData(R"({"access_token":"opaque-1234","expires_in":86400})"),
              R"({"access_token":"<redacted>","expires_in":86400})");
    EXPECT_EQ(RedactPersonalData("url=https://t.eu.auth0.com/lo/reset?ticket=AbC123#"),
              "url=https://t.eu.auth0.com/lo/reset?ticket=<redacted>#");
    EXPECT_EQ(RedactPersonalData("client_secret=it-secret password=\"hunter2\""),
              "client_secret=<redacted> password=\"<redacted>\"");
    EXPECT_EQ(RedactPersonalData(R"(error="body {\"client_secret\":\"s3\"}")"),
              R"(error="body {\"client_secret\":\"<redacted>\"}")");
}

TEST(RedactPersonalData, RemovesInternationalPhoneNumbers) {
    EXPECT_EQ(RedactPersonalData("phone +4915112345678 given"), "phone <redacted> given");
    EXPECT_EQ(RedactPersonalData("phone=+49 151 1234-5678"), "phone=<redacted>");
    EXPECT_EQ(RedactPersonalData("tz=+01:00 n=+12 x+1234567"), "tz=+01:00 n=+12 x+1234567");
}

TEST(RedactPersonalData, LeavesHouseStyleLinesAlone) {
    const std::string line =
        "event=job_done job_id=5 event_id=e-1 customer_id=cus_1 auth0_user_id=auth0|cus_1 "
        "outcome=created attempts=1 duration_ms=12 password_setup=change_password_email "
        "hint=\"check auth0.client_id/client_secret/audience\" event=token_refused";
    EXPECT_EQ(RedactPersonalData(line), line);
}

}  // namespace
}  // namespace kyc_bridge::core
