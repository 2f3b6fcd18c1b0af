// SPDX-License-Identifier: Apache-2.0
// The logging layer's safety net: what looks like personal data or a credential is redacted.
#include "kyc_bridge/core/log_line.hpp"

#include <array>

namespace kyc_bridge::core {
namespace {

constexpr std::string_view kRedacted = "<redacted>";

bool IsAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsIdent(char c) { return IsAlnum(c) || c == '_'; }
bool IsLocalPart(char c) {
    return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '\'';
}
bool IsDomain(char c) { return IsAlnum(c) || c == '.' || c == '-'; }
bool IsTokenChar(char c) {
    return IsAlnum(c) || c == '_' || c == '-' || c == '.' || c == '~' || c == '+' || c == '/' ||
           c == '=';
}
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool StartsWithNoCase(std::string_view text, std::size_t at, std::string_view word) {
    if (text.size() - at < word.size()) return false;
    for (std::size_t k = 0; k < word.size(); ++k) {
        if (Lower(text[at + k]) != word[k]) return false;
    }
    return true;
}

/// Emails: a non-empty local part, '@' or "%40", a non-empty domain.
std::string RedactEmails(std::string_view text) {
    std::string out;
    std::size_t copied = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        std::size_t at_len = text[i] == '@' ? 1 : (text.substr(i, 3) == "%40" ? 3 : 0);
        if (at_len == 0) continue;
        std::size_t left = i;
        while (left > copied && IsLocalPart(text[left - 1])) --left;
        std::size_t right = i + at_len;
        while (right < text.size() && IsDomain(text[right])) ++right;
        if (left == i || right == i + at_len) continue;
        out.append(text.substr(copied, left - copied)).append(kRedacted);
        copied = right;
        i = right - 1;
    }
    return out.append(text.substr(copied));
}

/// The values of credential-like keys: `ticket=…`, `"access_token":"…"`, `?ticket=…&`.
std::string RedactSecretValues(std::string_view text) {
    static constexpr std::array<std::string_view, 8> kKeys = {
        "ticket",   "client_secret", "access_token", "refresh_token",
        "id_token", "password",      "secret",       "authorization"};
    std::string out;
    std::size_t copied = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i > 0 && IsIdent(text[i - 1])) continue;
        for (auto key : kKeys) {
            if (!StartsWithNoCase(text, i, key)) continue;
            std::size_t j = i + key.size();
            if (j + 1 < text.size() && text[j] == '\\' && text[j + 1] == '"') ++j;
            if (j < text.size() && text[j] == '"') ++j;
            while (j < text.size() && text[j] == ' ') ++j;
            if (j >= text.size() || (text[j] != '=' && text[j] != ':')) continue;
            ++j;
            while (j < text.size() && text[j] == ' ') ++j;
            if (j < text.size() && (text[j] == '"' || text[j] == '\\')) {
                // `"…"` or an escaped `\"…\"`
                while (j < text.size() && (text[j] == '"' || text[j] == '\\')) ++j;
            }
            std::size_t end = j;
            while (end < text.size() && !IsSpace(text[end]) && text[end] != '"' &&
                   text[end] != '&' && text[end] != ',' && text[end] != ';' && text[end] != '}' &&
                   text[end] != '\'' && text[end] != '#' && text[end] != '\\') {
                ++end;
            }
            if (end == j || text.substr(j, end - j) == kRedacted) continue;
            out.append(text.substr(copied, j - copied)).append(kRedacted);
            copied = end;
            i = end - 1;
            break;
        }
    }
    return out.append(text.substr(copied));
}

/// Bearer tokens and JWTs (three base64url parts, the first a JSON header: "eyJ").
std::string RedactTokens(std::string_view text) {
    std::string out;
    std::size_t copied = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i > 0 && IsTokenChar(text[i - 1])) continue;
        std::size_t start = i;
        if (StartsWithNoCase(text, i, "bearer ")) {
            start = i + 7;
        } else if (text.substr(i, 3) != "eyJ") {
            continue;
        }
        std::size_t end = start;
        while (end < text.size() && IsTokenChar(text[end])) ++end;
        if (end - start < 8 || text.substr(start, end - start) == kRedacted) continue;
        out.append(text.substr(copied, start - copied)).append(kRedacted);
        copied = end;
        i = end - 1;
    }
    return out.append(text.substr(copied));
}

/// "+49 151 1234567", "+4915112345678": a '+' then 7 to 15 digits, single spaces or dashes
/// between them.
std::string RedactPhones(std::string_view text) {
    std::string out;
    std::size_t copied = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '+' || (i > 0 && IsAlnum(text[i - 1]))) continue;
        std::size_t j = i + 1, digits = 0, end = i + 1;
        while (j < text.size()) {
            if (IsDigit(text[j])) {
                ++digits;
                end = ++j;
            } else if ((text[j] == ' ' || text[j] == '-') && j + 1 < text.size() &&
                       IsDigit(text[j + 1])) {
                ++j;
            } else {
                break;
            }
        }
        if (digits < 7 || digits > 15 || (end < text.size() && IsAlnum(text[end]))) continue;
        out.append(text.substr(copied, i - copied)).append(kRedacted);
        copied = end;
        i = end - 1;
    }
    return out.append(text.substr(copied));
}

}  // namespace

std::string RedactPersonalData(std::string_view text) {
    return RedactPhones(RedactEmails(RedactSecretValues(RedactTokens(text))));
}

}  // namespace kyc_bridge::core
