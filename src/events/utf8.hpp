// SPDX-License-Identifier: Apache-2.0
// Private: the UTF-8 and Unicode character rules that event fields are checked against.
#pragma once

#include <cstddef>
#include <string_view>

namespace kyc_bridge::events {

/// True if `text` is well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code points
/// above U+10FFFF, no truncated sequence.
bool IsValidUtf8(std::string_view text);

/// The number of code points in `text`, which must be valid UTF-8 (checked by the caller).
std::size_t CodePointCount(std::string_view text);

/// True if valid UTF-8 `text` holds a character that can rewrite a log line or a display:
/// C0 controls and DEL, C1 controls, U+2028/U+2029 line separators, and the bidi embeddings,
/// overrides and isolates (U+202A–U+202E, U+2066–U+2069).
bool HasControlCharacter(std::string_view text);

}  // namespace kyc_bridge::events
