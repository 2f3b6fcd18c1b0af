// SPDX-License-Identifier: Apache-2.0
// Issue #9 "Hostile input": hostile events between valid ones are each dead-lettered and recorded
// with their own reason, the valid ones are provisioned, and the daemon neither stalls, crashes
// nor logs an address.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

/// A message for the input topic: no key or a key, a null value (a tombstone) or a value.
struct Outgoing {
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct HostileCase {
    std::string name;
    Outgoing message;
    std::string code;    ///< the reason code the contract requires; "" = any known code
    std::string source;  ///< "topic/partition/offset" once produced
};

struct ValidCase {
    std::string customer;
    Outgoing message;
};

const std::set<std::string> kKnownCodes = {"not_json",
                                           "invalid_utf8",
                                           "too_deep",
                                           "duplicate_key",
                                           "trailing_data",
                                           "control_character",
                                           "invalid_field",
                                           "missing_field",
                                           "invalid_email",
                                           "non_ascii_email_domain",
                                           "invalid_customer_id",
                                           "wrong_event_type",
                                           "kyc_not_verified",
                                           "invalid_event_id",
                                           "invalid_occurred_at",
                                           "invalid_phone_number",
                                           "too_large",
                                           "tombstone",
                                           "empty_message",
                                           "event_id_conflict"};

constexpr std::size_t kLimit = 64 * 1024;
constexpr std::size_t kHugeBytes = 999'900;

// --- a producer that can send what ProduceAll cannot: null values, headers, 1 MB values ----

struct KafkaDestroy {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};

struct DeliverySlot {
    bool reported = false;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
};

void OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* /*opaque*/) {
    auto* slot = static_cast<DeliverySlot*>(m->_private);
    *slot = {true, m->err, m->partition, m->offset};
}

rd_kafka_resp_err_t ProduceOne(rd_kafka_t* rk, const Outgoing& m, DeliverySlot* slot) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(m.headers.size());
    for (const auto& [name, value] : m.headers) {
        rd_kafka_header_add(headers, name.c_str(), -1, value.data(), value.size());
    }
    // The rdkafka macros cast their arguments without parentheses: plain locals only.
    void* key = m.key ? const_cast<char*>(m.key->data()) : nullptr;
    const std::size_t key_size = m.key ? m.key->size() : 0;
    void* value = m.value ? const_cast<char*>(m.value->data()) : nullptr;
    const std::size_t value_size = m.value ? m.value->size() : 0;
    auto err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(kInputTopic), RD_KAFKA_V_KEY(key, key_size),
        RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
    if (err) rd_kafka_headers_destroy(headers);  // taken over only on success
    return err;
}

/// Produces in order, acks=all; returns each message's "topic/partition/offset". Throws on any
/// failed delivery.
std::vector<std::string> ProduceRaw(const std::string& brokers,
                                    const std::vector<Outgoing>& batch) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    const std::vector<std::pair<std::string, std::string>> settings = {
        {"bootstrap.servers", brokers},
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"log_level", "3"},
        {"message.max.bytes", "2000000"}};
    for (const auto& [name, value] : settings) {
        if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            throw std::runtime_error("producer config " + name + ": " + error);
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
    std::unique_ptr<rd_kafka_t, KafkaDestroy> rk(
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(std::string("producer: ") + error);
    }
    std::vector<DeliverySlot> slots(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        rd_kafka_resp_err_t err;
        while ((err = ProduceOne(rk.get(), batch[i], &slots[i])) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk.get(), 100);
        }
        if (err)
            throw std::runtime_error("produce #" + std::to_string(i) + ": " +
                                     rd_kafka_err2str(err));
        rd_kafka_poll(rk.get(), 0);
    }
    if (auto err = rd_kafka_flush(rk.get(), 30000)) {
        throw std::runtime_error(std::string("flush: ") + rd_kafka_err2str(err));
    }
    std::vector<std::string> sources;
    for (std::size_t i = 0; i < slots.size(); ++i) {
        if (!slots[i].reported || slots[i].err) {
            throw std::runtime_error("delivery #" + std::to_string(i) +
                                     " failed: " + rd_kafka_err2str(slots[i].err));
        }
        sources.push_back(std::string(kInputTopic) + "/" + std::to_string(slots[i].partition) +
                          "/" + std::to_string(slots[i].offset));
    }
    return sources;
}

// --- observing ------------------------------------------------------------------------------

std::vector<std::string> HeaderValues(const KafkaRecord& record, const std::string& name) {
    std::vector<std::string> values;
    for (const auto& [n, v] : record.headers) {
        if (n == name) values.push_back(v);
    }
    return values;
}

std::string CodeOf(const std::string& reason) { return reason.substr(0, reason.find(':')); }

std::string Lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

/// The value of a counter line in a /metrics scrape, 0 if absent.
long MetricValue(const std::string& metrics, const std::string& series) {
    auto at = metrics.find(series + " ");
    return at == std::string::npos ? 0 : std::stol(metrics.substr(at + series.size() + 1));
}

// --- building events ------------------------------------------------------------------------

std::string Repeat(std::string_view unit, std::size_t times) {
    std::string out;
    for (std::size_t i = 0; i < times; ++i) out += unit;
    return out;
}

/// `event` serialised with the string member `field` replaced by raw JSON text or bytes.
std::string Splice(json event, const std::string& field, const std::string& raw) {
    event[field] = "@@SPLICE@@";
    auto text = event.dump();
    auto at = text.find("\"@@SPLICE@@\"");
    return text.replace(at, 12, raw);
}

/// `event` with the member `"pad"` grown until the value is exactly `bytes` long.
std::string PaddedTo(json event, std::size_t bytes) {
    event["pad"] = "";
    event["pad"] = std::string(bytes - event.dump().size(), 'x');
    return event.dump();
}

/// Prepends the raw member `"name":"value",` to the event's object: a duplicate key.
std::string WithDuplicate(const json& event, const std::string& name, const std::string& value) {
    return "{\"" + name + "\":\"" + value + "\"," + event.dump().substr(1);
}

class HostileInputTest : public PipelineTest {
protected:
    json Event(const std::string& name, const std::string& customer) {
        emails_.push_back("hi." + name + "@example.com");
        return KycEvent("evt-hi-" + name, customer, emails_.back());
    }
    void Hostile(const std::string& name, Outgoing message, const std::string& code) {
        hostile_.push_back({name, std::move(message), code, ""});
    }
    void Hostile(const std::string& name, const std::string& value, const std::string& code,
                 std::optional<std::string> key = std::nullopt) {
        Hostile(name, Outgoing{key.value_or("cus_hi_bad_" + name), value, {}}, code);
    }
    void Valid(const std::string& customer, const std::string& value) {
        valid_.push_back({customer, Outgoing{customer, value, {}}});
    }
    void BuildFirstBatch();
    /// Produces valid_[valid_from..] and hostile_[hostile_from..] interleaved.
    void PublishInterleaved(std::size_t hostile_from, std::size_t valid_from);
    /// Every valid customer published or its job failed, every hostile event dead-lettered.
    bool Settled();
    /// rejected.reason by "topic/partition/offset".
    std::map<std::string, std::string> RejectedReasons();
    /// A member of the customer's first user in the emulator ("" if there is none).
    std::string UserField(const std::string& customer, const std::string& member);
    void CheckDeadLetters(const std::vector<KafkaRecord>& dead, const std::string& huge_sha256);

    std::vector<HostileCase> hostile_;
    std::vector<ValidCase> valid_;
    std::vector<std::string> emails_;  ///< every address of every event: none may be logged
};

void HostileInputTest::BuildFirstBatch() {
    const std::string e_acute = "\xc3\xa9";
    for (int i = 1; i <= 6; ++i) {
        auto name = "plain" + std::to_string(i);
        Valid("cus_hi_" + name, Event(name, "cus_hi_" + name).dump());
    }
    // Invalid UTF-8, raw bytes in string values; hostile keys on some.
    Hostile("utf8_c3_28",
            Splice(Event("utf8a", "cus_hi_bad_utf8a"), "given_name", "\"Jos\xc3\x28\""),
            "invalid_utf8", "\r\nkey=forged");
    Hostile("utf8_lone_ff", Splice(Event("utf8b", "cus_hi_bad_utf8b"), "family_name", "\"\xff\""),
            "invalid_utf8", "\xff\xfe");
    // Nesting bombs.
    Hostile("deep_array", Repeat("[", 10000) + Repeat("]", 10000), "too_deep", "\x1b[31mkey");
    Hostile("deep_object",
            Splice(Event("deep", "cus_hi_bad_deep"), "extra",
                   Repeat("{\"a\":", 10000) + "1" + Repeat("}", 10000)),
            "too_deep");
    // At and over the limits.
    auto name150 = Event("name150", "cus_hi_name150");
    name150["given_name"] = Repeat(e_acute, 150);
    Valid("cus_hi_name150", name150.dump());
    auto name151 = Event("name151", "cus_hi_bad_name151");
    name151["given_name"] = Repeat(e_acute, 151);
    Hostile("given_name_151", name151.dump(), "invalid_field");
    const auto id64 = "cus_hi_" + std::string(64 - 7, 'a');
    Valid(id64, Event("id64", id64).dump());
    const auto id65 = "cus_hi_" + std::string(65 - 7, 'b');
    Hostile("customer_id_65", Event("id65", id65).dump(), "invalid_customer_id", id65);
    Valid("cus_hi_under64k", PaddedTo(Event("under64k", "cus_hi_under64k"), kLimit - 1));
    auto pending = Event("under64k_pending", "cus_hi_bad_under64k");
    pending["kyc_status"] = "PENDING";
    Hostile("under_64k_invalid", PaddedTo(pending, kLimit - 1), "kyc_not_verified");
    Hostile("over_64k", PaddedTo(Event("over64k", "cus_hi_bad_over64k"), kLimit + 1), "too_large");
    // NUL.
    Hostile("nul_then_garbage", Event("nul", "cus_hi_bad_nul").dump() + std::string("\0garbage", 8),
            "trailing_data", std::string("cus\0nul", 7));
    auto nul_name = Event("nulname", "cus_hi_bad_nulname");
    nul_name["given_name"] = std::string("Nu\0ll", 5);  // dumps as \u0000
    Hostile("nul_escape_in_name", nul_name.dump(), "control_character");
    // Duplicate keys.
    Hostile("duplicate_kyc_status",
            WithDuplicate(Event("dupstatus", "cus_hi_bad_dupstatus"), "kyc_status", "PENDING"),
            "duplicate_key");
    Hostile(
        "duplicate_customer_id",
        WithDuplicate(Event("dupcid", "cus_hi_bad_dupcid_a"), "customer_id", "cus_hi_bad_dupcid_b"),
        "duplicate_key");
    emails_.push_back("hi.dupemail.second@example.com");
    Hostile("duplicate_email",
            WithDuplicate(Event("dupemail", "cus_hi_bad_dupemail"), "email", emails_.back()),
            "duplicate_key");
    // Markup and log injection.
    auto script = Event("script", "cus_hi_script");
    script["given_name"] = "<script>alert(1)</script>";
    Valid("cus_hi_script", script.dump());
    auto ansi = Event("ansi", "cus_hi_bad_ansi");
    ansi["family_name"] = "\x1b[31mred";
    Hostile("ansi_family_name", ansi.dump(), "control_character");
    auto crlf = Event("crlf", "cus_hi_bad_crlf");
    crlf["given_name"] = "Eve\r\nevent=forged";
    Hostile("crlf_given_name", crlf.dump(), "control_character");
    auto crlf_email = Event("crlfemail", "cus_hi_bad_crlfemail");
    crlf_email["email"] = "a@b.com\r\nX: y";
    emails_.push_back("a@b.com");
    Hostile("crlf_email", crlf_email.dump(), "");
    // Homoglyph domain and its punycode form.
    auto homoglyph = Event("homoglyph", "cus_hi_bad_homoglyph");
    homoglyph["email"] = "jane@ex\xd0\xb0mple.com";
    emails_.push_back(homoglyph["email"].get<std::string>());
    Hostile("homoglyph_domain", homoglyph.dump(), "non_ascii_email_domain");
    auto punycode = Event("punycode", "cus_hi_punycode");
    punycode["email"] = "jane@xn--80ak6aa92e.com";
    emails_.push_back(punycode["email"].get<std::string>());
    Valid("cus_hi_punycode", punycode.dump());
    // No value, an empty value, forged headers.
    Hostile("tombstone", Outgoing{std::string(300, 'k'), std::nullopt, {}}, "tombstone");
    Hostile("empty_value", Outgoing{std::nullopt, std::string(), {}}, "empty_message");
    Hostile("forged_headers",
            Outgoing{"cus_hi_bad_forged",
                     "{\"email\": \"hi.forged@example.com\", oops",
                     {{"kyc_bridge_error", "forged"}, {"kyc_bridge_source", "forged/0/0"}}},
            "not_json");
    emails_.push_back("hi.forged@example.com");
    Valid("cus_hi_reuse", Event("reuse", "cus_hi_reuse").dump());
}

void HostileInputTest::PublishInterleaved(std::size_t hostile_from, std::size_t valid_from) {
    std::vector<Outgoing> batch;
    std::vector<HostileCase*> order;
    for (std::size_t h = hostile_from, v = valid_from; h < hostile_.size() || v < valid_.size();) {
        if (h < hostile_.size()) {
            batch.push_back(hostile_[h].message);
            order.push_back(&hostile_[h++]);
        }
        if (v < valid_.size()) {
            batch.push_back(valid_[v++].message);
            order.push_back(nullptr);
        }
    }
    auto sources = ProduceRaw(brokers_, batch);
    for (std::size_t i = 0; i < order.size(); ++i) {
        if (order[i]) order[i]->source = sources[i];
    }
}

bool HostileInputTest::Settled() {
    auto done = PublishedCustomers();
    try {
        for (const auto& row : QueryStore("SELECT customer_id FROM jobs WHERE state = 'failed'")) {
            done.insert(row[0]);
        }
    } catch (const std::runtime_error&) {
        return false;  // the daemon has not created the store yet
    }
    for (const auto& v : valid_) {
        if (!done.count(v.customer)) return false;
    }
    std::set<std::string> sources;
    for (const auto& record : ReadTopic(kDeadLetterTopic)) {
        for (const auto& s : HeaderValues(record, "kyc_bridge_source")) sources.insert(s);
    }
    return std::all_of(hostile_.begin(), hostile_.end(),
                       [&](const HostileCase& c) { return sources.count(c.source) > 0; });
}

std::map<std::string, std::string> HostileInputTest::RejectedReasons() {
    std::map<std::string, std::string> reasons;
    for (const auto& row : QueryStore("SELECT topic, partition, offset, reason FROM rejected")) {
        reasons[row[0] + "/" + row[1] + "/" + row[2]] = row[3];
    }
    return reasons;
}

std::string HostileInputTest::UserField(const std::string& customer, const std::string& member) {
    auto users = UsersByCustomer();
    auto it = users.find(customer);
    if (it == users.end() || it->second.empty()) return "";
    return it->second[0].value(member, "");
}

void HostileInputTest::CheckDeadLetters(const std::vector<KafkaRecord>& dead,
                                        const std::string& huge_sha256) {
    EXPECT_EQ(dead.size(), hostile_.size()) << "one dead letter per hostile event, none else";
    const auto reasons = RejectedReasons();
    EXPECT_EQ(reasons.size(), hostile_.size()) << "one rejected row per hostile event, none else";
    for (const auto& c : hostile_) {
        SCOPED_TRACE("hostile case " + c.name + " at " + c.source);
        std::vector<const KafkaRecord*> letters;
        for (const auto& record : dead) {
            auto src = HeaderValues(record, "kyc_bridge_source");
            if (std::find(src.begin(), src.end(), c.source) != src.end())
                letters.push_back(&record);
        }
        ASSERT_EQ(letters.size(), 1u) << "dead letters for it";
        const auto& letter = *letters[0];
        EXPECT_EQ(HeaderValues(letter, "kyc_bridge_source").size(), 1u);
        auto errors = HeaderValues(letter, "kyc_bridge_error");
        ASSERT_EQ(errors.size(), 1u) << "kyc_bridge_error headers";
        auto row = reasons.find(c.source);
        ASSERT_NE(row, reasons.end()) << "no rejected row";
        for (const auto& reason : {errors[0], row->second}) {
            if (c.code.empty()) {
                EXPECT_TRUE(kKnownCodes.count(CodeOf(reason))) << "reason: " << reason;
            } else {
                EXPECT_EQ(CodeOf(reason), c.code) << "reason: " << reason;
            }
        }
        if (c.name == "huge") {
            EXPECT_EQ(HeaderValues(letter, "kyc_bridge_truncated"),
                      std::vector<std::string>{std::to_string(kHugeBytes)});
            auto sha = HeaderValues(letter, "kyc_bridge_original_sha256");
            ASSERT_EQ(sha.size(), 1u);
            EXPECT_EQ(Lower(sha[0]), huge_sha256);
            EXPECT_LT(letter.value.size(), kHugeBytes);
            EXPECT_EQ(c.message.value->compare(0, letter.value.size(), letter.value), 0)
                << "the truncated value is a prefix of the original";
        }
    }
}

std::string Sha256Of(const std::string& data, const std::string& dir) {
    std::ofstream(dir + "/huge.bin", std::ios::binary) << data;
    const auto command = "sha256sum " + dir + "/huge.bin > " + dir + "/huge.sha256";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("sha256sum failed");
    return WaitForFile(dir + "/huge.sha256", 5s).substr(0, 64);
}

TEST_F(HostileInputTest, EveryHostileEventIsDeadLetteredWithItsReasonAndEveryValidOneProvisioned) {
    StartEmulator();
    const int port = FreeLoopbackPort();
    StartDaemon({{"KYC_BRIDGE_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)},
                 {"KYC_BRIDGE_LOG_LEVEL", "debug"}});
    BuildFirstBatch();
    PublishInterleaved(0, 0);
    WaitUntil([&] { return Settled(); }, 90s, "first batch provisioned and dead-lettered");
    const std::string duplicate_series = "kyc_bridge_events_total{result=\"duplicate\"}";
    const long duplicates_before = MetricValue(ScrapeMetrics(port), duplicate_series);

    // After the first is provisioned: its event_id with another email, then its exact bytes.
    const auto reuse = std::find_if(valid_.begin(), valid_.end(), [](const ValidCase& v) {
        return v.customer == "cus_hi_reuse";
    });
    auto conflict = json::parse(*reuse->message.value);
    conflict["email"] = "hi.reuse.other@example.com";
    emails_.push_back(conflict["email"].get<std::string>());
    const Outgoing duplicate = reuse->message;
    Hostile("event_id_conflict", Outgoing{"cus_hi_reuse", conflict.dump(), {}},
            "event_id_conflict");
    // Close to Kafka's message size limit; valid events published after it must still get out.
    auto huge = Event("huge", "cus_hi_bad_huge");
    huge["blob"] = "";
    huge["blob"] = std::string(kHugeBytes - huge.dump().size(), 'h');
    Hostile("huge", huge.dump(), "too_large");
    const auto huge_sha256 = Sha256Of(*hostile_.back().message.value, dir_);
    const std::size_t later_hostile = hostile_.size() - 2;
    auto sources = ProduceRaw(brokers_, {hostile_[later_hostile].message, duplicate,
                                         hostile_[later_hostile + 1].message});
    hostile_[later_hostile].source = sources[0];
    const auto duplicate_source = sources[1];
    hostile_[later_hostile + 1].source = sources[2];
    const std::size_t later_valid = valid_.size();
    for (int i = 1; i <= 3; ++i) {
        auto name = "after" + std::to_string(i);
        Valid("cus_hi_" + name, Event(name, "cus_hi_" + name).dump());
    }
    PublishInterleaved(hostile_.size(), later_valid);
    WaitUntil(
        [&] {
            return Settled() &&
                   MetricValue(ScrapeMetrics(port), duplicate_series) > duplicates_before;
        },
        90s, "the later events provisioned, dead-lettered and the duplicate counted");

    // Auth0's side: one user per valid customer, none for a hostile event.
    auto users = UsersByCustomer();
    std::set<std::string> expected;
    for (const auto& v : valid_) expected.insert(v.customer);
    std::set<std::string> provisioned;
    for (const auto& [customer, list] : users) provisioned.insert(customer);
    EXPECT_EQ(provisioned, expected);
    EXPECT_EQ(EmulatorGet("/__emulator/users").size(), valid_.size());
    for (const auto& [customer, list] : users) EXPECT_EQ(list.size(), 1u) << customer;
    EXPECT_EQ(UserField("cus_hi_reuse", "email"), "hi.reuse@example.com") << "first payload kept";
    EXPECT_EQ(UserField("cus_hi_script", "given_name"), "<script>alert(1)</script>");
    EXPECT_TRUE(UserField("cus_hi_name150", "given_name") == Repeat("\xc3\xa9", 150))
        << "the 150-character given_name, as sent";

    // One auth.user_created per valid customer.
    std::map<std::string, int> published;
    for (const auto& record : ReadTopic(kOutputTopic)) ++published[record.key];
    for (const auto& v : valid_) EXPECT_EQ(published[v.customer], 1) << v.customer;
    EXPECT_EQ(published.size(), valid_.size());

    CheckDeadLetters(ReadTopic(kDeadLetterTopic), huge_sha256);
    EXPECT_FALSE(RejectedReasons().count(duplicate_source)) << "the identical duplicate is silent";
    for (const auto& row : QueryStore("SELECT customer_id, state, last_error FROM jobs "
                                      "WHERE state != 'done'")) {
        ADD_FAILURE() << "job of " << row[0] << " is " << row[1] << ": " << row[2];
    }

    ASSERT_TRUE(daemon_->Running()) << "kyc-bridge crashed";
    EXPECT_EQ(StopDaemon(), 0);
    const auto log = WaitForFile(dir_ + "/daemon.log", 5s);
    for (const auto& email : emails_) {
        EXPECT_EQ(log.find(email), std::string::npos) << "an address in the log: " << email;
        EXPECT_EQ(log.find(Lower(email)), std::string::npos) << "an address in the log: " << email;
    }
    EXPECT_EQ(log.find('\x1b'), std::string::npos) << "a raw ESC in the log";
    EXPECT_EQ(log.find("\nevent=forged"), std::string::npos) << "a forged log line";
    EXPECT_EQ(log.find("\nX: y"), std::string::npos) << "a forged log line";
    EXPECT_EQ(log.find("\nkey=forged"), std::string::npos) << "a forged log line";
}

}  // namespace
}  // namespace kyc_bridge::testing
