// SPDX-License-Identifier: Apache-2.0
// Private: a SAX handler that bounds depth, refuses duplicate keys and keeps the wanted members.
#include "json_members.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "utf8.hpp"

namespace kyc_bridge::events {
namespace {

using core::Error;
using nlohmann::json;
using Type = JsonMember::Type;

// nlohmann's parser keeps its own nesting state in a vector, not on the call stack (json.hpp,
// parser::sax_parse_internal), and calls these handlers in document order; returning false
// stops it at once.
class MemberCollector final : public nlohmann::json_sax<json> {
public:
    MemberCollector(std::span<const std::string_view> wanted, std::size_t max_depth)
        : wanted_(wanted), max_depth_(max_depth) {}

    bool null() override { return Value(Type::kNull); }
    bool boolean(bool /*value*/) override { return Value(Type::kOther); }
    bool number_integer(number_integer_t /*value*/) override { return Value(Type::kOther); }
    bool number_unsigned(number_unsigned_t /*value*/) override { return Value(Type::kOther); }
    bool number_float(number_float_t /*value*/, const string_t& /*text*/) override {
        return Value(Type::kOther);
    }
    bool string(string_t& value) override { return Value(Type::kString, &value); }
    bool binary(binary_t& /*value*/) override { return Value(Type::kOther); }  // not in JSON text

    bool start_object(std::size_t /*elements*/) override {
        if (!Open(/*is_object=*/true)) return false;
        keys_.emplace_back();
        return true;
    }
    bool key(string_t& name) override {
        if (!keys_.back().insert(name).second) {
            bool named = depth_ == 1 && IsWanted(name);
            return Fail("duplicate_key", named ? "field '" + name + "' appears twice"
                                               : std::string("an object key appears twice"));
        }
        if (depth_ == 1) key_ = std::move(name);
        return true;
    }
    bool end_object() override {
        keys_.pop_back();
        return Close();
    }
    bool start_array(std::size_t /*elements*/) override { return Open(/*is_object=*/false); }
    bool end_array() override { return Close(); }

    // The exception's text quotes the input ("last read: ..."), so it is never passed on.
    bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& /*error*/) override {
        if (root_done_) return Fail("trailing_data", "event value has data after the JSON object");
        return Fail("not_json", "event value is not valid JSON");
    }

    const std::optional<Error>& failure() const { return failure_; }
    bool root_is_object() const { return root_is_object_; }
    JsonMembers TakeMembers() { return std::move(members_); }

private:
    bool IsWanted(std::string_view name) const {
        return std::find(wanted_.begin(), wanted_.end(), name) != wanted_.end();
    }

    bool Value(Type type, string_t* text = nullptr) {
        if (depth_ == 0) root_done_ = true;
        Record(type, text);
        return true;
    }
    bool Open(bool is_object) {
        if (depth_ == 0) root_is_object_ = is_object;
        Record(Type::kOther);
        if (++depth_ > max_depth_) {
            return Fail("too_deep", "event nests objects or arrays deeper than " +
                                        std::to_string(max_depth_) + " levels");
        }
        return true;
    }
    void Record(Type type, string_t* text = nullptr) {
        if (depth_ != 1 || !root_is_object_ || !IsWanted(key_)) return;
        members_[key_] = JsonMember{type, text ? std::move(*text) : std::string()};
    }
    bool Close() {
        if (--depth_ == 0) root_done_ = true;
        return true;
    }
    bool Fail(std::string code, std::string message) {
        if (!failure_) failure_ = Error::Permanent(std::move(message), std::move(code));
        return false;
    }

    std::span<const std::string_view> wanted_;
    std::size_t max_depth_;
    std::size_t depth_ = 0;
    bool root_is_object_ = false;
    bool root_done_ = false;  // the top-level value is complete: only whitespace may follow
    std::string key_;         // the current top-level member
    std::vector<std::set<std::string>> keys_;  // per open object; a set, so no hash flooding
    JsonMembers members_;
    std::optional<Error> failure_;
};

}  // namespace

core::Result<JsonMembers> ReadJsonMembers(std::string_view payload,
                                          std::span<const std::string_view> wanted,
                                          std::size_t max_depth) {
    // RFC 8259 §8.1: JSON text exchanged between systems is UTF-8, all of it.
    if (!IsValidUtf8(payload)) {
        return Error::Permanent("event value is not valid UTF-8", "invalid_utf8");
    }
    MemberCollector collector(wanted, max_depth);
    bool parsed = json::sax_parse(payload.begin(), payload.end(), &collector);
    if (collector.failure()) return *collector.failure();
    if (!parsed) return Error::Permanent("event value is not valid JSON", "not_json");
    // nlohmann's lexer takes a NUL byte for the end of input (lexer::scan), even from
    // iterators. A NUL is never valid in JSON text, so a successful parse means one followed
    // the value.
    if (payload.find('\0') != std::string_view::npos) {
        return Error::Permanent("event value has data after the JSON object", "trailing_data");
    }
    if (!collector.root_is_object()) {
        return Error::Permanent("event value is not a JSON object", "not_json");
    }
    return collector.TakeMembers();
}

}  // namespace kyc_bridge::events
