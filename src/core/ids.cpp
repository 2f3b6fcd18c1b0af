// SPDX-License-Identifier: Apache-2.0
// SHA-256 based ids and RAND_bytes passwords.
#include "kyc_bridge/core/ids.hpp"

#include <array>
#include <cstdio>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace kyc_bridge::core {

std::string DeterministicUuid(std::string_view ns, std::string_view name) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    std::string input;
    input.reserve(ns.size() + 1 + name.size());
    input.append(ns).push_back('\0');
    input.append(name);
    if (EVP_Digest(input.data(), input.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 digest failed in OpenSSL");
    }
    digest[6] = static_cast<unsigned char>((digest[6] & 0x0F) | 0x80);  // version 8
    digest[8] = static_cast<unsigned char>((digest[8] & 0x3F) | 0x80);  // RFC variant
    std::string out;
    char hex[3];
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        std::snprintf(hex, sizeof hex, "%02x", digest[i]);
        out.append(hex);
    }
    return out;
}

std::string Sha256Hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 digest failed in OpenSSL");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0x0F]);
    }
    return out;
}

void Cleanse(std::string& secret) {
    if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
    secret.clear();
}

std::string RandomPassword() {
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#$%^&*-_=+";
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("RAND_bytes failed: the CSPRNG is not seeded");
    }
    std::string password;
    for (unsigned char b : bytes) password.push_back(kAlphabet[b % kAlphabet.size()]);
    // Guarantee every character class regardless of the draw, for strict password policies.
    password += "Aa1!";
    // Auth0's "Excellent" policy refuses more than 2 identical characters in a row.
    for (std::size_t i = 2; i < password.size(); ++i) {
        if (password[i] == password[i - 1] && password[i] == password[i - 2]) {
            password[i] = kAlphabet[(kAlphabet.find(password[i]) + 1) % kAlphabet.size()];
        }
    }
    return password;
}

std::string AsciiLower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

}  // namespace kyc_bridge::core
