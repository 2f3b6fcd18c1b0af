// SPDX-License-Identifier: Apache-2.0
// Private: a strict UTF-8 decoder and the character classes the event rules reject.
#include "utf8.hpp"

namespace kyc_bridge::events {
namespace {

constexpr char32_t kIllFormed = 0xFFFFFFFF;

// Decodes the code point that starts at text[pos] and moves pos past it; kIllFormed if the
// sequence is not one of RFC 3629 §4's well-formed byte sequences.
char32_t DecodeAt(std::string_view text, std::size_t& pos) {
    struct Form {
        unsigned char mask, lead;  // the lead byte's length bits and their value
        std::size_t length;
        char32_t smallest;  // below it the form is overlong
    };
    static constexpr Form kForms[] = {
        {0xE0, 0xC0, 2, 0x80}, {0xF0, 0xE0, 3, 0x800}, {0xF8, 0xF0, 4, 0x10000}};
    auto lead = static_cast<unsigned char>(text[pos]);
    if (lead < 0x80) {
        ++pos;
        return lead;
    }
    for (const Form& form : kForms) {
        if ((lead & form.mask) != form.lead) continue;
        if (text.size() - pos < form.length) return kIllFormed;
        char32_t code_point = lead & static_cast<unsigned char>(~form.mask);
        for (std::size_t i = 1; i < form.length; ++i) {
            auto next = static_cast<unsigned char>(text[pos + i]);
            if ((next & 0xC0) != 0x80) return kIllFormed;
            code_point = (code_point << 6) | (next & 0x3F);
        }
        if (code_point < form.smallest || code_point > 0x10FFFF ||
            (code_point >= 0xD800 && code_point <= 0xDFFF)) {
            return kIllFormed;
        }
        pos += form.length;
        return code_point;
    }
    return kIllFormed;
}

bool IsRejectedCharacter(char32_t c) {
    return c <= 0x1F || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029 ||
           (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
    for (std::size_t pos = 0; pos < text.size();) {
        if (DecodeAt(text, pos) == kIllFormed) return false;
    }
    return true;
}

std::size_t CodePointCount(std::string_view text) {
    std::size_t count = 0;
    for (std::size_t pos = 0; pos < text.size(); ++count) {
        if (DecodeAt(text, pos) == kIllFormed) ++pos;  // not reached for validated text
    }
    return count;
}

bool HasControlCharacter(std::string_view text) {
    for (std::size_t pos = 0; pos < text.size();) {
        char32_t c = DecodeAt(text, pos);
        if (c == kIllFormed || IsRejectedCharacter(c)) return true;
    }
    return false;
}

}  // namespace kyc_bridge::events
