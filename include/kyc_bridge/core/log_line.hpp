// SPDX-License-Identifier: Apache-2.0
// What the log formatter does to a message: redact personal data, split key=value fields, JSON.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kyc_bridge::core {

/// Replaces what looks like personal data or a credential with "<redacted>": email addresses
/// (also %40-encoded), phone numbers in international form, JWTs, bearer tokens, and the values
/// of ticket / client_secret / access_token / password fields and query parameters. A safety
/// net under the rule that log lines never carry such data; names cannot be recognised here.
std::string RedactPersonalData(std::string_view text);

/// One `key=value` or `key="quoted value"` field of a house-style log line.
struct LogField {
    std::string key;
    std::string value;    ///< unescaped: `\"` and `\\` in a quoted value are undone
    bool quoted = false;  ///< written with quotes: always a string in JSON
};

/// A message split into its fields, in order, and the words that are not fields.
struct ParsedLogLine {
    std::vector<LogField> fields;
    std::string rest;  ///< the non-field words joined by single spaces
};

/// Splits a house-style message. A quoted value ends at the `"` followed by the end or by a
/// space and the next `key=`, so an unescaped quote inside a value is kept. Never throws.
ParsedLogLine ParseLogFields(std::string_view message);

/// Appends `text` to `out` as the inside of a JSON string: quotes, backslashes and control
/// characters escaped, bytes that are not valid UTF-8 replaced by U+FFFD.
void AppendJsonEscaped(std::string& out, std::string_view text);

/// One JSON object (no newline): time, level, component, msg, then the message's fields as
/// members (unquoted integers as numbers, except keys ending in "_id"). `msg` holds the words
/// that are not fields, or the `event` field when all are. `message` is taken as it is: redact
/// it first.
std::string JsonLogLine(std::string_view time, std::string_view level, std::string_view component,
                        std::string_view message);

}  // namespace kyc_bridge::core
