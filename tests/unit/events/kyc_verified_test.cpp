// SPDX-License-Identifier: Apache-2.0
// Every rule of the customer.kyc_verified contract, each rejected case with its reason.
#include "kyc_bridge/events/kyc_verified.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kyc_bridge/events/user_created.hpp"

namespace kyc_bridge::events {
namespace {

using nlohmann::json;

json ValidEvent() {
    return {{"event_id", "9d0c2f4e-0000-4000-8000-000000000001"},
            {"event_type", "customer.kyc_verified"},
            {"occurred_at", "2026-11-22T10:00:00Z"},
            {"customer_id", "cus_8F3k2"},
            {"kyc_status", "VERIFIED"},
            {"email", "Jane.Doe@Example.com"},
            {"given_name", "Jane"},
            {"family_name", "Doe"},
            {"locale", "en-GB"}};
}

std::string RejectCode(const json& doc) {
    auto parsed = ParseKycVerified(doc.dump());
    EXPECT_FALSE(parsed.ok()) << doc.dump();
    if (parsed.ok()) return "";
    EXPECT_EQ(parsed.error().kind, core::ErrorKind::kPermanent);
    return parsed.error().code;
}

TEST(KycVerified, ParsesAValidEventAndLowerCasesTheEmail) {
    auto parsed = ParseKycVerified(ValidEvent().dump());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->customer_id, "cus_8F3k2");
    EXPECT_EQ(parsed->email, "jane.doe@example.com");
    EXPECT_EQ(parsed->given_name, "Jane");
    EXPECT_FALSE(parsed->phone_number.has_value());
}

TEST(KycVerified, RoundTripsThroughJson) {
    auto parsed = ParseKycVerified(ValidEvent().dump());
    ASSERT_TRUE(parsed.ok());
    auto again = ParseKycVerified(ToJson(*parsed));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*parsed, *again);
}

TEST(KycVerified, RejectsNonJsonAndNonObjects) {
    EXPECT_EQ(ParseKycVerified("{not json").error().code, "not_json");
    EXPECT_EQ(ParseKycVerified("[1,2]").error().code, "not_json");
    EXPECT_EQ(ParseKycVerified("").error().code, "not_json");
}

TEST(KycVerified, RejectsEventsLargerThan64KiB) {
    auto doc = ValidEvent();
    doc["given_name"] = std::string(70 * 1024, 'a');
    EXPECT_EQ(ParseKycVerified(doc.dump()).error().code, "too_large");
}

TEST(KycVerified, RejectsEachMissingRequiredFieldByName) {
    for (const char* field :
         {"event_id", "event_type", "occurred_at", "customer_id", "kyc_status", "email"}) {
        auto doc = ValidEvent();
        doc.erase(field);
        auto parsed = ParseKycVerified(doc.dump());
        ASSERT_FALSE(parsed.ok()) << field;
        EXPECT_EQ(parsed.error().code, "missing_field");
        EXPECT_NE(parsed.error().message.find(field), std::string::npos);
    }
}

TEST(KycVerified, RejectsWrongTypes) {
    auto doc = ValidEvent();
    doc["customer_id"] = 42;
    EXPECT_EQ(RejectCode(doc), "invalid_field");
    doc = ValidEvent();
    doc["given_name"] = json::array();
    EXPECT_EQ(RejectCode(doc), "invalid_field");
}

TEST(KycVerified, RejectsStatusOtherThanVerified) {
    auto doc = ValidEvent();
    doc["kyc_status"] = "PENDING";
    EXPECT_EQ(RejectCode(doc), "kyc_not_verified");
    doc["kyc_status"] = "verified";
    EXPECT_EQ(RejectCode(doc), "kyc_not_verified");
}

TEST(KycVerified, RejectsMalformedEmailsWithoutEchoingThem) {
    for (const char* email : {"jane", "jane@", "@example.com", "jane@example", "ja ne@example.com",
                              "jane@@example.com", "jane@exa..mple.com"}) {
        auto doc = ValidEvent();
        doc["email"] = email;
        auto parsed = ParseKycVerified(doc.dump());
        ASSERT_FALSE(parsed.ok()) << email;
        EXPECT_EQ(parsed.error().code, "invalid_email");
        EXPECT_EQ(parsed.error().message.find(email), std::string::npos);
    }
}

TEST(KycVerified, RejectsMalformedCustomerIds) {
    for (std::string id : {std::string(""), std::string("cus 1"), std::string("cus|1"),
                           std::string("cüs"), std::string(65, 'a')}) {
        auto doc = ValidEvent();
        doc["customer_id"] = id;
        EXPECT_EQ(RejectCode(doc), "invalid_customer_id") << id;
    }
    auto doc = ValidEvent();
    doc["customer_id"] = std::string(64, 'a');
    EXPECT_TRUE(ParseKycVerified(doc.dump()).ok());
}

TEST(KycVerified, RejectsBadEventIdTypeAndTime) {
    auto doc = ValidEvent();
    doc["event_id"] = std::string(129, 'e');
    EXPECT_EQ(RejectCode(doc), "invalid_event_id");
    doc = ValidEvent();
    doc["event_type"] = "customer.kyc_revoked";
    EXPECT_EQ(RejectCode(doc), "wrong_event_type");
    for (const char* when : {"2026-11-22", "2026-11-22 10:00:00Z", "2026-13-22T10:00:00Z",
                             "2026-11-22T10:00:00", "yesterday"}) {
        doc = ValidEvent();
        doc["occurred_at"] = when;
        EXPECT_EQ(RejectCode(doc), "invalid_occurred_at") << when;
    }
}

TEST(KycVerified, AcceptsRfc3339FractionsAndOffsets) {
    EXPECT_TRUE(IsRfc3339("2026-11-22T10:00:00.123Z"));
    EXPECT_TRUE(IsRfc3339("2026-11-22T10:00:00+01:00"));
    EXPECT_FALSE(IsRfc3339("2026-11-22T10:00:00+0100"));
}

TEST(KycVerified, ValidatesOptionalFields) {
    auto doc = ValidEvent();
    doc["phone_number"] = "+447700900123";
    EXPECT_TRUE(ParseKycVerified(doc.dump()).ok());
    doc["phone_number"] = "07700 900123";
    EXPECT_EQ(RejectCode(doc), "invalid_phone_number");
    doc = ValidEvent();
    doc["family_name"] = std::string(151, 'x');
    EXPECT_EQ(RejectCode(doc), "invalid_field");
    doc = ValidEvent();
    doc["given_name"] = nullptr;
    EXPECT_TRUE(ParseKycVerified(doc.dump()).ok());
}

std::string Repeat(std::string_view text, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) out += text;
    return out;
}

// The code and message of a rejected event; the message must not quote `value`.
std::string RejectCodeWithout(const json& doc, const std::string& value) {
    auto parsed = ParseKycVerified(doc.dump());
    EXPECT_FALSE(parsed.ok());
    if (parsed.ok()) return "";
    EXPECT_EQ(parsed.error().message.find(value), std::string::npos) << parsed.error().message;
    return parsed.error().code;
}

TEST(KycVerified, RejectsControlCharactersInNamesWithoutEchoingThem) {
    for (std::string name :
         {std::string("Ja\0ne", 5), std::string("\x1b[31mDoe"), std::string("Jane\r\nDoe"),
          std::string("Jane\nDoe"), std::string("Ja\tne"), std::string("Ja\x7fne"),
          std::string("Ja\xc2\x85ne"),         // U+0085 NEL, a C1 control
          std::string("Jane\xe2\x80\xa8"),     // U+2028 LINE SEPARATOR
          std::string("\xe2\x80\xaeJane"),     // U+202E RIGHT-TO-LEFT OVERRIDE
          std::string("Ja\xe2\x80\xaane"),     // U+202A LEFT-TO-RIGHT EMBEDDING
          std::string("Ja\xe2\x81\xa6ne"),     // U+2066 LEFT-TO-RIGHT ISOLATE
          std::string("Ja\xe2\x81\xa9ne")}) {  // U+2069 POP DIRECTIONAL ISOLATE
        for (const char* field : {"given_name", "family_name"}) {
            auto doc = ValidEvent();
            doc[field] = name;
            auto parsed = ParseKycVerified(doc.dump());
            ASSERT_FALSE(parsed.ok()) << field;
            EXPECT_EQ(parsed.error().code, "control_character") << field;
            EXPECT_NE(parsed.error().message.find(field), std::string::npos);
            EXPECT_EQ(parsed.error().message.find("Ja"), std::string::npos);
        }
    }
}

TEST(KycVerified, RejectsControlCharactersInEveryField) {
    for (const char* field : {"event_id", "event_type", "occurred_at", "customer_id", "kyc_status",
                              "email", "given_name", "family_name", "phone_number", "locale"}) {
        auto doc = ValidEvent();
        doc[field] = "a\nb";
        EXPECT_EQ(RejectCode(doc), "control_character") << field;
    }
    auto doc = ValidEvent();
    doc["email"] = "jane@example.com\r\nBcc: eve@example.com";
    EXPECT_EQ(RejectCodeWithout(doc, "eve"), "control_character");
}

TEST(KycVerified, AcceptsNamesThatAreOnlyDataToUs) {
    // Markup is stored as given and never rendered by kyc-bridge; whoever renders it escapes it.
    auto doc = ValidEvent();
    doc["given_name"] = "<script>alert(1)</script>";
    doc["family_name"] = "O'Brien-Smith \"Jr.\"";
    auto parsed = ParseKycVerified(doc.dump());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->given_name, "<script>alert(1)</script>");
    // ZWNJ (U+200C) is part of Persian spelling: not a control, not a bidi override.
    doc = ValidEvent();
    doc["given_name"] = "\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xae\xd9\x88\xd8\xa7\xd9\x87\xd9\x85";
    EXPECT_TRUE(ParseKycVerified(doc.dump()).ok());
}

TEST(KycVerified, CountsLengthsInCharactersNotBytes) {
    auto doc = ValidEvent();
    doc["given_name"] = Repeat("\xc3\xa9", 100);           // 100 × "é": 200 bytes
    doc["family_name"] = Repeat("\xf0\x9f\x98\x80", 150);  // 150 × U+1F600: 600 bytes
    doc["locale"] = Repeat("\xc3\xa9", 35);
    doc["event_id"] = Repeat("\xc3\xa9", 128);
    auto parsed = ParseKycVerified(doc.dump());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->given_name->size(), 200u);

    doc = ValidEvent();
    doc["given_name"] = Repeat("\xc3\xa9", 151);
    auto rejected = ParseKycVerified(doc.dump());
    ASSERT_FALSE(rejected.ok());
    EXPECT_EQ(rejected.error().code, "invalid_field");
    EXPECT_EQ(rejected.error().message, "field 'given_name' must be 1 to 150 characters");
    doc = ValidEvent();
    doc["family_name"] = "";
    EXPECT_EQ(RejectCode(doc), "invalid_field");
    doc = ValidEvent();
    doc["locale"] = Repeat("\xc3\xa9", 36);
    EXPECT_EQ(RejectCode(doc), "invalid_field");
    doc = ValidEvent();
    doc["event_id"] = Repeat("\xc3\xa9", 129);
    EXPECT_EQ(RejectCode(doc), "invalid_event_id");
}

TEST(KycVerified, RejectsEmailsOutsideRfc5321) {
    std::string label63(63, 'a');
    std::string domain253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
    for (std::string email : {std::string("a@b@example.com"),
                              std::string(65, 'j') + "@example.com",
                              "jane@" + std::string(64, 'a') + ".com",
                              std::string("jane@-example.com"),
                              std::string("jane@example-.com"),
                              std::string("jane@localhost"),
                              std::string("jane@example.123"),
                              std::string("jane@192.168.0.1"),
                              std::string("jane@example.com."),
                              std::string("jane@.example.com"),
                              std::string("jane@exa_mple.com"),
                              std::string(".jane@example.com"),
                              std::string("jane.@example.com"),
                              std::string("ja..ne@example.com"),
                              std::string("\"jane\"@example.com"),
                              std::string("jan\xc3\xa9@example.com"),
                              std::string("jane@[192.168.0.1]"),
                              "j@" + domain253,
                              "j@" + domain253 + "c",
                              std::string(64, 'j') + "@" + domain253}) {
        auto doc = ValidEvent();
        doc["email"] = email;
        EXPECT_EQ(RejectCodeWithout(doc, email), "invalid_email") << email;
        EXPECT_FALSE(IsPlausibleEmail(email)) << email;
    }
}

TEST(KycVerified, AcceptsEmailsAtRfc5321Limits) {
    std::string label63(63, 'a');
    for (std::string email :
         {std::string(64, 'j') + "@example.com", "jane@" + label63 + ".com",
          "j@" + label63 + "." + label63 + "." + label63 + "." + std::string(60, 'b'),  // 254
          std::string("jane+kyc@example.co.uk"), std::string("o'brien@example.com"),
          std::string("j@x.io"), std::string("jane@mail-1.example.com"),
          std::string("jane@xn--80ak6aa92e.com")}) {
        auto doc = ValidEvent();
        doc["email"] = email;
        auto parsed = ParseKycVerified(doc.dump());
        EXPECT_TRUE(parsed.ok()) << email << ": " << parsed.error().message;
    }
}

TEST(KycVerified, RejectsNonAsciiEmailDomainsAskingForTheAsciiForm) {
    // "exаmple.com" with a Cyrillic а (U+0430): a homoglyph of example.com.
    for (const char* email : {"jane@ex\xd0\xb0mple.com", "jane@m\xc3\xbcnchen.de",
                              "jane@\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.com"}) {
        auto doc = ValidEvent();
        doc["email"] = email;
        auto parsed = ParseKycVerified(doc.dump());
        ASSERT_FALSE(parsed.ok()) << email;
        EXPECT_EQ(parsed.error().code, "non_ascii_email_domain");
        EXPECT_EQ(parsed.error().message.find("jane"), std::string::npos);
        EXPECT_NE(parsed.error().message.find("xn--"), std::string::npos);
        EXPECT_FALSE(IsPlausibleEmail(email));
    }
}

TEST(KycVerified, RoundTripsNonAsciiNames) {
    auto doc = ValidEvent();
    doc["given_name"] = "Zo\xc3\xab";
    doc["family_name"] = "\xe5\xb1\xb1\xe7\x94\xb0";
    doc["email"] = "Zoe@XN--80AK6AA92E.com";
    auto parsed = ParseKycVerified(doc.dump());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->email, "zoe@xn--80ak6aa92e.com");
    auto again = ParseKycVerified(ToJson(*parsed));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*parsed, *again);
}

TEST(UserCreated, EventIdIsDeterministicPerCustomerAndUser) {
    auto a = UserCreatedEventId("cus_1", "auth0|cus_1");
    EXPECT_EQ(a, UserCreatedEventId("cus_1", "auth0|cus_1"));
    EXPECT_NE(a, UserCreatedEventId("cus_2", "auth0|cus_2"));
    EXPECT_NE(a, UserCreatedEventId("cus_1", "auth0|other"));
    EXPECT_EQ(a.size(), 36u);
}

TEST(UserCreated, PayloadCarriesTheContractFieldsAndNoEmail) {
    UserCreated e{"cus_1", "auth0|cus_1", {"ROLE_CUSTOMER"}, "created", "src-1",
                  "2026-11-22T10:00:00.000Z"};
    auto doc = json::parse(UserCreatedPayload(e));
    EXPECT_EQ(doc["event_type"], "auth.user_created");
    EXPECT_EQ(doc["outcome"], "created");
    EXPECT_EQ(doc["roles"][0], "ROLE_CUSTOMER");
    EXPECT_EQ(doc["event_id"], UserCreatedEventId("cus_1", "auth0|cus_1"));
    EXPECT_FALSE(doc.contains("email"));
    auto headers = UserCreatedHeaders(e, "kyc-bridge");
    EXPECT_EQ(headers.size(), 6u);
    EXPECT_EQ(headers[1].second, doc["event_id"]);
    EXPECT_EQ(FormatRfc3339(1'800'000'000'123), "2027-01-15T08:00:00.123Z");
}

}  // namespace
}  // namespace kyc_bridge::events
