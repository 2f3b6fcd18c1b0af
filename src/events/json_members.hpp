// SPDX-License-Identifier: Apache-2.0
// Private: one JSON object read with nlohmann's SAX parser into the members a contract wants.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::events {

/// A top-level member's value, as the field rules see it.
struct JsonMember {
    enum class Type { kString, kNull, kOther };  ///< kOther: number, boolean, object or array
    Type type = Type::kOther;
    std::string text;  ///< the decoded string when type is kString
};

/// The wanted members that were present, by name.
using JsonMembers = std::map<std::string, JsonMember, std::less<>>;

/// Reads `payload` as exactly one JSON object and returns those of its top-level members named
/// in `wanted`; other members are checked for syntax, depth and duplicate keys only. No DOM is
/// built and nothing recurses, so depth costs nothing before it is rejected. Errors (kPermanent,
/// codes): invalid_utf8, not_json, too_deep (over `max_depth` levels, the object being level
/// 1), duplicate_key (any level; the message names a key only if it is in `wanted`),
/// trailing_data. Throws only std::bad_alloc.
core::Result<JsonMembers> ReadJsonMembers(std::string_view payload,
                                          std::span<const std::string_view> wanted,
                                          std::size_t max_depth);

}  // namespace kyc_bridge::events
