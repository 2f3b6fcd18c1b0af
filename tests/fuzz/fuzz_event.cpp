// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the bytes are one `customer.kyc_verified` value for ParseKycVerified.
//
// Input: the raw Kafka message value, as the consumer hands it on. Seeds: corpus/events/.
// Findings: a sanitizer report, an exception (ParseKycVerified never throws), or a round trip
// that changes the event: an accepted event, written by ToJson (the inbox's form) and parsed
// again, must be accepted and equal, and ToJson must then be a fixed point.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kyc_bridge/events/kyc_verified.hpp"

namespace {

[[noreturn]] void Finding(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_event: %s\n%s\n", what, detail.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kyc_bridge::events;
    const std::string_view payload(reinterpret_cast<const char*>(data), size);
    auto first = ParseKycVerified(payload);
    if (!first) {
        if (first.error().code.empty()) Finding("rejected without a code", first.error().message);
        return 0;
    }
    const std::string json = ToJson(*first);
    auto second = ParseKycVerified(json);
    if (!second) {
        Finding("ToJson of an accepted event is rejected",
                second.error().code + ": " + second.error().message + "\n" + json);
    }
    if (!(*second == *first)) Finding("round trip changed the event", json + "\n" + ToJson(*second));
    if (ToJson(*second) != json) Finding("ToJson is not a fixed point", json);
    return 0;
}
