// SPDX-License-Identifier: Apache-2.0
// key=value splitting and JSON rendering of log messages; no spdlog here.
#include "kyc_bridge/core/log_line.hpp"

#include <cstdint>
#include <set>

namespace kyc_bridge::core {
namespace {

bool IsAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsIdent(char c) { return IsAlnum(c) || c == '_'; }
bool IsKeyChar(char c) { return IsIdent(c) || c == '.' || c == '-'; }

/// Length of the valid UTF-8 sequence at `at`, 0 if the bytes there are not one.
std::size_t Utf8Length(std::string_view s, std::size_t at) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[at + k]); };
    const auto cont = [&](std::size_t k) { return at + k < s.size() && (b(k) & 0xC0) == 0x80; };
    const unsigned char c = b(0);
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(1) || !cont(2)) return 0;
        if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
        if (c == 0xED && b(1) > 0x9F) return 0;  // surrogates
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
        if (c == 0xF4 && b(1) > 0x8F) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

/// `key=` starts at `at`: an identifier, then '='.
bool IsFieldStart(std::string_view s, std::size_t at) {
    if (at >= s.size() || !(IsIdent(s[at]))) return false;
    std::size_t j = at;
    while (j < s.size() && IsKeyChar(s[j])) ++j;
    return j < s.size() && s[j] == '=';
}

/// A quoted value's closing quote: the first '"' before the end or before " key=", else the
/// first unescaped '"' at all; npos if there is none.
std::size_t ClosingQuote(std::string_view s, std::size_t from) {
    std::size_t first = std::string_view::npos;
    for (std::size_t j = from; j < s.size(); ++j) {
        if (s[j] == '\\' && j + 1 < s.size() && (s[j + 1] == '"' || s[j + 1] == '\\')) {
            ++j;
            continue;
        }
        if (s[j] != '"') continue;
        if (first == std::string_view::npos) first = j;
        std::size_t k = j + 1;
        if (k == s.size()) return j;
        if (!IsSpace(s[k])) continue;
        while (k < s.size() && IsSpace(s[k])) ++k;
        if (k == s.size() || IsFieldStart(s, k)) return j;
    }
    return first;
}

std::string Unescape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t j = 0; j < s.size(); ++j) {
        if (s[j] == '\\' && j + 1 < s.size() && (s[j + 1] == '"' || s[j + 1] == '\\')) ++j;
        out += s[j];
    }
    return out;
}

bool IsJsonInteger(std::string_view v) {
    std::size_t i = v.starts_with('-') ? 1 : 0;
    if (i == v.size() || v.size() - i > 18) return false;
    if (v[i] == '0' && v.size() - i > 1) return false;
    for (; i < v.size(); ++i) {
        if (!IsDigit(v[i])) return false;
    }
    return true;
}

void AppendMember(std::string& out, std::string_view key, std::string_view value, bool raw) {
    out += ",\"";
    AppendJsonEscaped(out, key);
    out += "\":";
    if (raw) {
        out += value;
        return;
    }
    out += '"';
    AppendJsonEscaped(out, value);
    out += '"';
}

}  // namespace

ParsedLogLine ParseLogFields(std::string_view s) {
    ParsedLogLine line;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && IsSpace(s[i])) ++i;
        if (i == s.size()) break;
        if (!IsFieldStart(s, i)) {
            std::size_t end = i;
            while (end < s.size() && !IsSpace(s[end])) ++end;
            if (!line.rest.empty()) line.rest += ' ';
            line.rest.append(s.substr(i, end - i));
            i = end;
            continue;
        }
        LogField field;
        const std::size_t eq = s.find('=', i);
        field.key = std::string(s.substr(i, eq - i));
        i = eq + 1;
        if (i < s.size() && s[i] == '"') {
            field.quoted = true;
            const std::size_t close = ClosingQuote(s, i + 1);
            const std::size_t end = close == std::string_view::npos ? s.size() : close;
            field.value = Unescape(s.substr(i + 1, end - i - 1));
            i = close == std::string_view::npos ? s.size() : close + 1;
        } else {
            std::size_t end = i;
            while (end < s.size() && !IsSpace(s[end])) ++end;
            field.value = std::string(s.substr(i, end - i));
            i = end;
        }
        line.fields.push_back(std::move(field));
    }
    return line;
}

void AppendJsonEscaped(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x80) {
            const std::size_t n = Utf8Length(text, i);
            if (n == 0) {
                out += "\\ufffd";
                ++i;
            } else {
                out.append(text.substr(i, n));
                i += n;
            }
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (u < 0x20 || u == 0x7F) {
                    out += "\\u00";
                    out += kHex[u >> 4];
                    out += kHex[u & 0xF];
                } else {
                    out += c;
                }
        }
        ++i;
    }
}

std::string JsonLogLine(std::string_view time, std::string_view level, std::string_view component,
                        std::string_view message) {
    const auto parsed = ParseLogFields(message);
    std::string_view msg = parsed.rest;
    if (msg.empty()) {
        for (const auto& field : parsed.fields) {
            if (field.key == "event") {
                msg = field.value;
                break;
            }
        }
    }
    std::string out;
    out.reserve(message.size() * 5 / 4 + 96);
    out += "{\"time\":\"";
    AppendJsonEscaped(out, time);
    out += '"';
    AppendMember(out, "level", level, false);
    AppendMember(out, "component", component, false);
    AppendMember(out, "msg", msg, false);
    std::set<std::string> used = {"time", "level", "component", "msg"};
    for (const auto& field : parsed.fields) {
        // A key that is taken (a reserved member or a repeated field) gets a suffix: object
        // members stay unique.
        std::string key = field.key;
        for (int n = 2; !used.insert(key).second; ++n) key = field.key + "_" + std::to_string(n);
        const bool number =
            !field.quoted && !field.key.ends_with("_id") && IsJsonInteger(field.value);
        AppendMember(out, key, field.value, number);
    }
    out += '}';
    return out;
}

}  // namespace kyc_bridge::core
