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
