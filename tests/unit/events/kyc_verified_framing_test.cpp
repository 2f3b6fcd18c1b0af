// SPDX-License-Identifier: Apache-2.0
// The JSON text around a customer.kyc_verified event: size, encoding, depth, keys, trailing bytes.
#include "kyc_bridge/events/kyc_verified.hpp"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace kyc_bridge::events {
namespace {

// A valid event's members, without the closing brace, so tests can add members as raw text
// (a DOM builder cannot write a duplicate key).
constexpr std::string_view kValidMembers =
    R"({"event_id":"9d0c2f4e-0000-4000-8000-000000000001","event_type":"customer.kyc_verified",)"
    R"("occurred_at":"2026-11-22T10:00:00Z","customer_id":"cus_8F3k2","kyc_status":"VERIFIED",)"
    R"("email":"jane@example.com")";

std::string Event(std::string_view extra_members = {}) {
    std::string text(kValidMembers);
    if (!extra_members.empty()) text.append(",").append(extra_members);
    return text + "}";
}

// `count` nested arrays around 0.
std::string NestedArrays(std::size_t count) {
    return std::string(count, '[') + "0" + std::string(count, ']');
}

// The reason code, or "ok".
std::string CodeOf(std::string_view payload) {
    auto parsed = ParseKycVerified(payload);
    if (parsed.ok()) return "ok";
    EXPECT_EQ(parsed.error().kind, core::ErrorKind::kPermanent);
    EXPECT_EQ(parsed.error().message.find("last read"), std::string::npos)
        << "the JSON library's message quotes the input";
    return parsed.error().code;
}

TEST(KycVerifiedFraming, AcceptsTheBaseEvent) { EXPECT_EQ(CodeOf(Event()), "ok"); }

TEST(KycVerifiedFraming, RejectsADuplicateKeyWhicheverValueAReaderWouldTake) {
    for (const char* order : {R"("kyc_status":"PENDING")", R"("kyc_status":"VERIFIED")"}) {
        auto parsed = ParseKycVerified(Event(order));
        ASSERT_FALSE(parsed.ok()) << order;
        EXPECT_EQ(parsed.error().code, "duplicate_key");
        EXPECT_EQ(parsed.error().message, "field 'kyc_status' appears twice");
    }
    // The first value a reader meets is PENDING, the last VERIFIED.
    std::string pending_first(kValidMembers);
    pending_first.replace(pending_first.find("VERIFIED"), 8, "PENDING");
    EXPECT_EQ(CodeOf(pending_first + R"(,"kyc_status":"VERIFIED"})"), "duplicate_key");
}

TEST(KycVerifiedFraming, RejectsDuplicateCustomerIdAndEmailWithoutEchoingThem) {
    EXPECT_EQ(CodeOf(Event(R"("customer_id":"cus_other")")), "duplicate_key");
    auto parsed = ParseKycVerified(Event(R"("email":"eve@example.com")"));
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, "duplicate_key");
    EXPECT_EQ(parsed.error().message.find("eve"), std::string::npos);
}

TEST(KycVerifiedFraming, RejectsDuplicateKeysAtAnyLevelWithoutNamingUnknownKeys) {
    auto parsed = ParseKycVerified(Event(R"("x_jane_doe":1,"x_jane_doe":2)"));
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, "duplicate_key");
    EXPECT_EQ(parsed.error().message.find("jane"), std::string::npos);
    EXPECT_EQ(CodeOf(Event(R"("meta":{"source":"a","source":"b"})")), "duplicate_key");
    EXPECT_EQ(CodeOf(Event(R"("meta":[{"k":1},{"k":1,"k":2}])")), "duplicate_key");
    // The same key in sibling objects or at another level is no duplicate.
    EXPECT_EQ(CodeOf(Event(R"("a":{"k":1},"b":{"k":2,"a":{"k":3}},"k":[{"k":1},{"k":2}])")), "ok");
}

TEST(KycVerifiedFraming, RejectsBytesAfterTheObject) {
    EXPECT_EQ(CodeOf(Event() + std::string("\0garbage", 8)), "trailing_data");
    EXPECT_EQ(CodeOf(Event() + std::string(1, '\0')), "trailing_data");
    EXPECT_EQ(CodeOf(Event() + std::string(" \n\0", 3)), "trailing_data");
    EXPECT_EQ(CodeOf(Event() + "x"), "trailing_data");
    EXPECT_EQ(CodeOf(Event() + " {}"), "trailing_data");
    EXPECT_EQ(CodeOf(Event() + Event()), "trailing_data");
    EXPECT_EQ(CodeOf(Event() + "\f"), "trailing_data");  // not JSON whitespace (RFC 8259 §2)
}

TEST(KycVerifiedFraming, AcceptsJsonWhitespaceAroundTheObject) {
    EXPECT_EQ(CodeOf(Event() + "  \n"), "ok");
    EXPECT_EQ(CodeOf(" \t\r\n" + Event() + "\r\n\t "), "ok");
}

TEST(KycVerifiedFraming, TreatsEmptyAndNulOnlyValuesAsNotJson) {
    EXPECT_EQ(CodeOf(""), "not_json");
    EXPECT_EQ(CodeOf(" \n"), "not_json");
    EXPECT_EQ(CodeOf(std::string(1, '\0')), "not_json");
    EXPECT_EQ(CodeOf(std::string("\0", 1) + Event()), "not_json");
    EXPECT_EQ(CodeOf(Event().substr(0, 40)), "not_json");
    EXPECT_EQ(CodeOf("\"jane@example.com\""), "not_json");
}

TEST(KycVerifiedFraming, RejectsDeepNestingWithoutRecursing) {
    EXPECT_EQ(CodeOf(std::string(10'000, '[')), "too_deep");
    EXPECT_EQ(CodeOf(NestedArrays(10'000)), "too_deep");
    std::string objects;
    for (int i = 0; i < 10'000; ++i) objects += R"({"a":)";
    EXPECT_EQ(CodeOf(objects), "too_deep");
    EXPECT_EQ(CodeOf(Event("\"extra\":" + std::string(20'000, '['))), "too_deep");
}

TEST(KycVerifiedFraming, CountsTheEventObjectAsTheFirstLevel) {
    // An unknown member is ignored when the whole event stays within kMaxEventDepth levels.
    EXPECT_EQ(CodeOf(Event("\"extra\":" + NestedArrays(kMaxEventDepth - 1))), "ok");
    EXPECT_EQ(CodeOf(Event("\"extra\":" + NestedArrays(kMaxEventDepth))), "too_deep");
    EXPECT_EQ(CodeOf(NestedArrays(kMaxEventDepth)), "not_json");  // shallow enough, not an object
    EXPECT_EQ(CodeOf(NestedArrays(kMaxEventDepth + 1)), "too_deep");
}

TEST(KycVerifiedFraming, IgnoresUnknownMembersOfAnyType) {
    EXPECT_EQ(CodeOf(Event(R"("n":1.5,"b":true,"z":null,"o":{"a":[1,"x",{}]},"big":1e308)")), "ok");
    // Control characters in an unknown member are not our data: it is dropped, never logged.
    EXPECT_EQ(CodeOf(Event(R"("note":"line\nbreak\u0000")")), "ok");
}

TEST(KycVerifiedFraming, RejectsKnownFieldsThatAreContainers) {
    EXPECT_EQ(CodeOf(Event(R"("given_name":{"first":"Jane"})")), "invalid_field");
    EXPECT_EQ(CodeOf(Event(R"("locale":["en"])")), "invalid_field");
    EXPECT_EQ(CodeOf(Event(R"("phone_number":447700900123)")), "invalid_field");
}

TEST(KycVerifiedFraming, RejectsIllFormedUtf8Anywhere) {
    for (std::string bytes : {std::string("\xc3\x28"),          // lead byte, then ASCII
                              std::string("\xc0\xaf"),          // overlong '/'
                              std::string("\xed\xa0\x80"),      // an encoded surrogate
                              std::string("\xf4\x90\x80\x80"),  // above U+10FFFF
                              std::string("\xff"), std::string("\x80")}) {
        EXPECT_EQ(CodeOf(Event(R"("given_name":"Ja)" + bytes + "ne\"")), "invalid_utf8");
        EXPECT_EQ(CodeOf(Event(R"("unknown":"x)" + bytes + "\"")), "invalid_utf8");
        EXPECT_EQ(CodeOf(Event() + bytes), "invalid_utf8");
    }
    EXPECT_EQ(CodeOf(Event(R"("given_name":"Jane)" + std::string("\xe2\x82"))), "invalid_utf8");
    // A lone surrogate escape is no UTF-8 at all; nlohmann refuses it as a syntax error.
    EXPECT_EQ(CodeOf(Event(R"("given_name":"\ud800")")), "not_json");
    EXPECT_EQ(CodeOf(Event(R"("given_name":"\ud83d\ude00")")), "ok");  // a pair: U+1F600
}

TEST(KycVerifiedFraming, RejectsAnEscapedNulInANameAsAControlCharacter) {
    EXPECT_EQ(CodeOf(Event(R"("given_name":"Ja\u0000ne")")), "control_character");
    EXPECT_EQ(CodeOf(Event(R"("family_name":"\u001b[31mDoe")")), "control_character");
    EXPECT_EQ(CodeOf(Event(R"("family_name":"Doe\r\nX-Injected: 1")")), "control_character");
    EXPECT_EQ(CodeOf(Event(R"("given_name":"\u202eenaJ")")), "control_character");
}

TEST(KycVerifiedFraming, ChecksSizeBeforeAnythingElse) {
    EXPECT_EQ(CodeOf(Event() + std::string(kMaxEventBytes, ' ')), "too_large");
    auto padded = Event();
    padded += std::string(kMaxEventBytes - padded.size(), ' ');
    EXPECT_EQ(CodeOf(padded), "ok");
}

}  // namespace
}  // namespace kyc_bridge::events
