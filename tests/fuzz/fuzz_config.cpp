// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the bytes are a TOML config file for ParseConfig.
//
// Input: TOML text, as kyc-bridge reads it from --config. Seeds: corpus/config/. The environment
// is empty and Secrets::kSkip, so auth0.client_secret_file is never read. auth0.ca_file is read
// whatever Secrets says (ResolveAuth0), so inputs that set it are skipped: a path such as
// /dev/zero or a FIFO would block or exhaust memory, which is the operator's choice, not a bug.
// Findings: a sanitizer report, or any exception other than ConfigError (from ParseConfig, or
// from EffectiveValues on an accepted config, which never throws).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "kyc_bridge/config/config.hpp"

namespace {

[[noreturn]] void Finding(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_config: %s\n%s\n", what, detail.c_str());
    std::abort();
}

bool SetsCaFile(const std::string& text) {
    try {
        const toml::table root = toml::parse(text, std::string_view{"fuzz.toml"});
        const auto path = root["auth0"]["ca_file"].value<std::string>();
        return path && !path->empty();  // "" means no CA file: nothing is opened
    } catch (const toml::parse_error&) {
        return false;  // ParseConfig fails on it too, before it opens anything
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kyc_bridge::config;
    const std::string text(reinterpret_cast<const char*>(data), size);
    if (SetsCaFile(text)) return -1;  // not kept in the corpus
    try {
        const Config config = ParseConfig(text, Environment{}, "fuzz.toml", Secrets::kSkip);
        (void)EffectiveValues(config);
    } catch (const ConfigError&) {
        // expected: the file is refused with a message naming the key
    } catch (const std::exception& e) {
        Finding("exception other than ConfigError", e.what());
    } catch (...) {
        Finding("non-std exception", "");
    }
    return 0;
}
