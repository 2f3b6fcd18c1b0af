// SPDX-License-Identifier: Apache-2.0
// Deterministic event ids and unguessable secrets.
#pragma once

#include <string>
#include <string_view>

namespace kyc_bridge::core {

/// A name-based UUID (RFC 9562 version 8 layout, SHA-256 of `ns` + '\0' + `name`): the same input
/// gives the same id on every host and every restart. Thread-safe.
std::string DeterministicUuid(std::string_view ns, std::string_view name);

/// Lower-case hex SHA-256 of `data` (64 characters). Throws std::runtime_error if OpenSSL fails.
std::string Sha256Hex(std::string_view data);

/// Overwrites the bytes of `secret` (OPENSSL_cleanse, which the optimiser cannot drop), then
/// clears it. For passwords and tokens that must not linger in freed memory.
void Cleanse(std::string& secret);

/// A random password from OpenSSL's RAND_bytes that satisfies Auth0's strongest password policy
/// (length 32, upper, lower, digit, symbol). Throws std::runtime_error if the CSPRNG fails.
std::string RandomPassword();

/// Lower-cases ASCII letters (Auth0 stores database-connection emails lower-cased).
std::string AsciiLower(std::string_view text);

}  // namespace kyc_bridge::core
