// SPDX-License-Identifier: Apache-2.0
// TOML + environment → typed Config, through one table of known keys.
#include "kyc_bridge/config/config.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <variant>

#include <toml++/toml.h>

extern char** environ;

namespace kyc_bridge::config {
namespace {

using Target = std::variant<std::string*, int*, bool*, double*, std::vector<std::string>*>;

struct Key {
    std::string section;
    std::string name;
    Target target;
    std::string dotted() const { return section + "." + name; }
    std::string env_name() const {
        std::string out = "KYC_BRIDGE_" + section + "_" + name;
        for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return out;
    }
};

std::vector<Key> KnownKeys(Config& c) {
    return {
        {"kafka", "brokers", &c.kafka.brokers},
        {"kafka", "group_id", &c.kafka.group_id},
        {"kafka", "input_topic", &c.kafka.input_topic},
        {"kafka", "output_topic", &c.kafka.output_topic},
        {"kafka", "dead_letter_topic", &c.kafka.dead_letter_topic},
        {"kafka", "revoked_topic", &c.kafka.revoked_topic},
        {"kafka", "blocked_topic", &c.kafka.blocked_topic},
        {"kafka", "embedded_partitions", &c.kafka.embedded_partitions},
        {"kafka", "dead_letter_max_bytes", &c.kafka.dead_letter_max_bytes},
        {"auth0", "domain", &c.auth0.domain},
        {"auth0", "base_url", &c.auth0.base_url},
        {"auth0", "allow_insecure_http", &c.auth0.allow_insecure_http},
        {"auth0", "ca_file", &c.auth0.ca_file},
        {"auth0", "client_id", &c.auth0.client_id},
        {"auth0", "client_secret", &c.auth0.client_secret},
        {"auth0", "client_secret_file", &c.auth0.client_secret_file},
        {"auth0", "audience", &c.auth0.audience},
        {"auth0", "connection", &c.auth0.connection},
        {"auth0", "roles", &c.auth0.roles},
        {"auth0", "password_setup", &c.auth0.password_setup},
        {"auth0", "email_client_id", &c.auth0.email_client_id},
        {"auth0", "connect_timeout_ms", &c.auth0.connect_timeout_ms},
        {"auth0", "request_timeout_ms", &c.auth0.request_timeout_ms},
        {"auth0", "max_requests_per_second", &c.auth0.max_requests_per_second},
        {"store", "path", &c.store.path},
        {"store", "busy_timeout_ms", &c.store.busy_timeout_ms},
        {"http", "listen", &c.http.listen},
        {"log", "level", &c.log.level},
        {"log", "format", &c.log.format},
        {"retry", "initial_backoff_ms", &c.retry.initial_backoff_ms},
        {"retry", "max_backoff_ms", &c.retry.max_backoff_ms},
        {"retry", "max_attempts", &c.retry.max_attempts},
        {"retry", "max_age_s", &c.retry.max_age_s},
        {"retry", "conflict_max_attempts", &c.retry.conflict_max_attempts},
        {"provision", "concurrency", &c.provision.concurrency},
        {"provision", "max_emails_in_flight", &c.provision.max_emails_in_flight},
        {"provision", "role_batch_size", &c.provision.role_batch_size},
        {"provision", "role_batch_wait_ms", &c.provision.role_batch_wait_ms},
        {"store", "commit_interval_ms", &c.store.commit_interval_ms},
        {"store", "commit_max_records", &c.store.commit_max_records},
        {"store", "strict_modes", &c.store.strict_modes},
        {"store", "keep_personal_data_s", &c.store.keep_personal_data_s},
        {"deprovision", "remove_roles", &c.deprovision.remove_roles},
        {"deprovision", "publish_not_found", &c.deprovision.publish_not_found},
        {"daemon", "shutdown_timeout_s", &c.daemon.shutdown_timeout_s},
    };
}

// --- values from TOML nodes ------------------------------------------------------------------

void AssignFromToml(const Key& key, const toml::node& node) {
    auto wrong = [&](const char* expected) {
        throw ConfigError(key.dotted(), std::string("must be ") + expected);
    };
    std::visit(
        [&](auto* target) {
            using T = std::remove_pointer_t<decltype(target)>;
            if constexpr (std::is_same_v<T, std::string>) {
                if (!node.is_string()) wrong("a string");
                *target = *node.value<std::string>();
            } else if constexpr (std::is_same_v<T, int>) {
                if (!node.is_integer()) wrong("an integer");
                auto v = *node.value<std::int64_t>();
                if (v < INT32_MIN || v > INT32_MAX) wrong("a 32-bit integer");
                *target = static_cast<int>(v);
            } else if constexpr (std::is_same_v<T, bool>) {
                if (!node.is_boolean()) wrong("true or false");
                *target = *node.value<bool>();
            } else if constexpr (std::is_same_v<T, double>) {
                if (!node.is_number()) wrong("a number");
                *target = *node.value<double>();
            } else {
                const auto* array = node.as_array();
                if (!array) wrong("an array of strings");
                target->clear();
                for (const auto& item : *array) {
                    if (!item.is_string()) wrong("an array of strings");
                    target->push_back(*item.value<std::string>());
                }
            }
        },
        key.target);
}

// --- values from environment strings ---------------------------------------------------------

void AssignFromEnv(const Key& key, const std::string& text) {
    auto where = key.env_name() + " (" + key.dotted() + ")";
    std::visit(
        [&](auto* target) {
            using T = std::remove_pointer_t<decltype(target)>;
            if constexpr (std::is_same_v<T, std::string>) {
                *target = text;
            } else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, double>) {
                std::istringstream in(text);
                T value{};
                if (!(in >> value) || !in.eof()) {
                    throw ConfigError(where, "'" + text + "' is not a number");
                }
                *target = value;
            } else if constexpr (std::is_same_v<T, bool>) {
                if (text == "true" || text == "1") *target = true;
                else if (text == "false" || text == "0") *target = false;
                else throw ConfigError(where, "must be true or false");
            } else {
                // A comma-separated list: KYC_BRIDGE_AUTH0_ROLES=ROLE_CUSTOMER,ROLE_SAVER
                target->clear();
                std::istringstream in(text);
                for (std::string item; std::getline(in, item, ',');) {
                    if (!item.empty()) target->push_back(item);
                }
            }
        },
        key.target);
}

void ApplyToml(const toml::table& root, std::vector<Key>& keys, Config& config) {
    for (const auto& [section_name, section_node] : root) {
        std::string section(section_name.str());
        const auto* table = section_node.as_table();
        bool known = std::any_of(keys.begin(), keys.end(),
                                 [&](const Key& k) { return k.section == section; });
        if (!known || !table) throw ConfigError(section, "unknown section");
        for (const auto& [key_name, node] : *table) {
            std::string name(key_name.str());
            if (section == "kafka" && name == "properties") {
                const auto* props = node.as_table();
                if (!props) throw ConfigError("kafka.properties", "must be a table");
                for (const auto& [prop, value] : *props) {
                    auto dotted = "kafka.properties." + std::string(prop.str());
                    if (auto s = value.value<std::string>()) {
                        config.kafka.properties[std::string(prop.str())] = *s;
                    } else if (auto i = value.value<std::int64_t>(); i && value.is_integer()) {
                        config.kafka.properties[std::string(prop.str())] = std::to_string(*i);
                    } else if (auto b = value.value<bool>()) {
                        config.kafka.properties[std::string(prop.str())] = *b ? "true" : "false";
                    } else {
                        throw ConfigError(dotted, "must be a string, integer or boolean");
                    }
                }
                continue;
            }
            auto it = std::find_if(keys.begin(), keys.end(), [&](const Key& k) {
                return k.section == section && k.name == name;
            });
            if (it == keys.end()) throw ConfigError(section + "." + name, "unknown key");
            AssignFromToml(*it, node);
            if (it->dotted() == "auth0.client_secret") {
                config.auth0.client_secret_inline = !config.auth0.client_secret.empty();
            }
        }
    }
}

void ApplyEnvironment(const Environment& env, std::vector<Key>& keys, Config& config) {
    static const std::string kPropertiesPrefix = "KYC_BRIDGE_KAFKA_PROPERTIES_";
    for (const auto& entry : env) {
        // Named references rather than a structured binding: clang 14 does not let lambdas
        // capture a binding (P1091 came in C++20 but clang implemented it in 16).
        const std::string& name = entry.first;
        const std::string& value = entry.second;
        if (name.rfind("KYC_BRIDGE_", 0) != 0) continue;
        if (name.rfind(kPropertiesPrefix, 0) == 0) {
            // librdkafka property names use dots: KYC_BRIDGE_KAFKA_PROPERTIES_SECURITY_PROTOCOL.
            std::string prop = name.substr(kPropertiesPrefix.size());
            for (char& c : prop) c = c == '_' ? '.' : static_cast<char>(std::tolower(c));
            config.kafka.properties[prop] = value;
            continue;
        }
        auto it = std::find_if(keys.begin(), keys.end(),
                               [&](const Key& k) { return k.env_name() == name; });
        if (it != keys.end()) {
            AssignFromEnv(*it, value);
            if (it->dotted() == "auth0.client_secret") config.auth0.client_secret_inline = false;
            continue;
        }
        bool under_known_section = std::any_of(keys.begin(), keys.end(), [&](const Key& k) {
            return name.rfind(k.env_name().substr(0, 11 + k.section.size() + 1), 0) == 0;
        });
        if (under_known_section) throw ConfigError(name, "unknown configuration variable");
    }
}

void Require(bool condition, const std::string& key, const std::string& problem) {
    if (!condition) throw ConfigError(key, problem);
}

// "must be LO to HI", the message every bounded integer key gives.
void RequireRange(int value, int lo, int hi, const std::string& key, const std::string& why = "") {
    Require(value >= lo && value <= hi, key,
            "must be " + std::to_string(lo) + " to " + std::to_string(hi) + why);
}

std::string ReadSecretFile(const std::string& path) {
    // The secret can create and change every user of the tenant: a file other users can read
    // is refused, as ssh refuses a private key of mode 0644.
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && (info.st_mode & 0077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
        throw ConfigError("auth0.client_secret_file",
                          "'" + path + "' has mode " + mode +
                              ", readable by group or others; chmod 600 it (or 400)");
    }
    std::ifstream in(path);
    if (!in) throw ConfigError("auth0.client_secret_file", "cannot read '" + path + "'");
    std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    Require(!secret.empty(), "auth0.client_secret_file", "'" + path + "' is empty");
    return secret;
}

void ResolveSecret(Auth0Config& a, std::vector<std::string>& warnings) {
    Require(!a.client_id.empty(), "auth0.client_id", "is required");
    if (a.client_secret_inline && !a.client_secret.empty()) {
        warnings.push_back(
            "auth0.client_secret is written in the config file; prefer auth0.client_secret_file "
            "(mode 0600) or KYC_BRIDGE_AUTH0_CLIENT_SECRET");
    }
    if (a.client_secret.empty() && !a.client_secret_file.empty()) {
        a.client_secret = ReadSecretFile(a.client_secret_file);
    }
    Require(!a.client_secret.empty(), "auth0.client_secret",
            "is required (set KYC_BRIDGE_AUTH0_CLIENT_SECRET or auth0.client_secret_file)");
}

void ResolveAuth0(Auth0Config& a, Secrets secrets, std::vector<std::string>& warnings) {
    if (secrets == Secrets::kRequire) ResolveSecret(a, warnings);
    Require(!a.domain.empty() || !a.base_url.empty(), "auth0.domain", "is required");
    if (a.base_url.empty()) a.base_url = "https://" + a.domain;
    while (a.base_url.size() > 1 && a.base_url.back() == '/') a.base_url.pop_back();
    bool https = a.base_url.rfind("https://", 0) == 0;
    bool http = a.base_url.rfind("http://", 0) == 0;
    Require(https || http, "auth0.base_url", "must start with https://");
    Require(https || a.allow_insecure_http, "auth0.base_url",
            "plain http:// is refused unless auth0.allow_insecure_http = true");
    if (a.allow_insecure_http) {
        warnings.push_back(std::string("auth0.allow_insecure_http = true: ") +
                           (http ? "the client secret and tokens go to " + a.base_url +
                                       " unencrypted; use it only against a test emulator"
                                 : "not needed for an https:// base_url; remove it"));
    }
    if (!a.ca_file.empty()) {
        std::ifstream ca(a.ca_file);
        Require(static_cast<bool>(ca), "auth0.ca_file", "cannot read '" + a.ca_file + "'");
        std::string pem((std::istreambuf_iterator<char>(ca)), std::istreambuf_iterator<char>());
        Require(pem.find("-----BEGIN CERTIFICATE-----") != std::string::npos, "auth0.ca_file",
                "'" + a.ca_file + "' holds no PEM certificate");
    }
    if (a.audience.empty()) a.audience = "https://" + a.domain + "/api/v2/";
    if (a.email_client_id.empty()) a.email_client_id = a.client_id;
    Require(!a.connection.empty(), "auth0.connection", "is required");
    Require(a.password_setup == "change_password_email" || a.password_setup == "verification_email" ||
                a.password_setup == "none",
            "auth0.password_setup",
            "must be change_password_email, verification_email or none, not '" + a.password_setup +
                "'");
    for (const auto& role : a.roles) Require(!role.empty(), "auth0.roles", "has an empty role name");
    Require(a.connect_timeout_ms > 0, "auth0.connect_timeout_ms", "must be positive");
    Require(a.request_timeout_ms > 0, "auth0.request_timeout_ms", "must be positive");
    Require(a.max_requests_per_second >= 0, "auth0.max_requests_per_second",
            "must be 0 (no cap) or positive");
}

// librdkafka properties that carry kyc-bridge's delivery guarantees: configuration cannot
// switch them off.
void RejectOwnedKafkaProperties(const std::map<std::string, std::string>& properties) {
    static const std::map<std::string, std::string> kOwned = {
        {"enable.auto.commit", "offsets are committed only once the inbox is durable"},
        {"enable.auto.offset.store", "offsets are committed only once the inbox is durable"},
        {"isolation.level", "only committed transactions are read (read_committed)"},
        {"enable.idempotence", "the outbox relies on an idempotent producer"},
        {"acks", "an event is sent only once all in-sync replicas have it (acks=all)"},
        {"max.in.flight.requests.per.connection", "the idempotent producer needs at most 5"},
    };
    for (const auto& [name, value] : properties) {
        auto owned = kOwned.find(name);
        if (owned != kOwned.end()) {
            throw ConfigError("kafka.properties." + name,
                              "is set by kyc-bridge and cannot be overridden: " + owned->second +
                                  "; remove it");
        }
    }
}

void Validate(Config& c, Secrets secrets) {
    RejectOwnedKafkaProperties(c.kafka.properties);
    Require(!c.kafka.brokers.empty(), "kafka.brokers", "is required (a bootstrap list or \"embedded\")");
    Require(!c.kafka.group_id.empty(), "kafka.group_id", "is required");
    Require(!c.kafka.input_topic.empty(), "kafka.input_topic", "is required");
    Require(!c.kafka.output_topic.empty(), "kafka.output_topic", "is required");
    Require(!c.kafka.dead_letter_topic.empty(), "kafka.dead_letter_topic", "is required");
    Require(!c.kafka.revoked_topic.empty(), "kafka.revoked_topic", "is required");
    Require(!c.kafka.blocked_topic.empty(), "kafka.blocked_topic", "is required");
    Require(c.kafka.revoked_topic != c.kafka.input_topic, "kafka.revoked_topic",
            "must differ from kafka.input_topic");
    Require(c.kafka.embedded_partitions >= 1, "kafka.embedded_partitions", "must be at least 1");
    RequireRange(c.kafka.dead_letter_max_bytes, 1024, 900000, "kafka.dead_letter_max_bytes",
                 " (below the producer's message.max.bytes, 1000000 by default)");
    ResolveAuth0(c.auth0, secrets, c.warnings);
    Require(!c.store.path.empty(), "store.path", "is required");
    Require(c.store.busy_timeout_ms >= 0, "store.busy_timeout_ms", "must not be negative");
    auto colon = c.http.listen.rfind(':');
    Require(colon != std::string::npos && colon + 1 < c.http.listen.size(), "http.listen",
            "must be host:port");
    Require(c.log.level == "trace" || c.log.level == "debug" || c.log.level == "info" ||
                c.log.level == "warn" || c.log.level == "error",
            "log.level", "must be trace, debug, info, warn or error");
    Require(c.log.format == "text" || c.log.format == "json", "log.format", "must be text or json");
    Require(c.retry.initial_backoff_ms > 0, "retry.initial_backoff_ms", "must be positive");
    Require(c.retry.max_backoff_ms >= c.retry.initial_backoff_ms, "retry.max_backoff_ms",
            "must be at least retry.initial_backoff_ms");
    Require(c.retry.max_attempts >= 1, "retry.max_attempts", "must be at least 1");
    Require(c.retry.max_age_s >= 1, "retry.max_age_s", "must be at least 1");
    Require(c.retry.conflict_max_attempts >= 1, "retry.conflict_max_attempts", "must be at least 1");
    RequireRange(c.provision.concurrency, 1, 1024, "provision.concurrency");
    RequireRange(c.provision.max_emails_in_flight, 1, 1024, "provision.max_emails_in_flight");
    RequireRange(c.provision.role_batch_size, 1, 1000, "provision.role_batch_size",
                 " (Auth0 takes at most 1000 users per call)");
    RequireRange(c.provision.role_batch_wait_ms, 0, 10000, "provision.role_batch_wait_ms");
    RequireRange(c.store.commit_interval_ms, 0, 1000, "store.commit_interval_ms");
    RequireRange(c.store.commit_max_records, 1, 10000, "store.commit_max_records");
    Require(c.store.keep_personal_data_s >= 0, "store.keep_personal_data_s",
            "must not be negative");
    Require(c.daemon.shutdown_timeout_s >= 1, "daemon.shutdown_timeout_s", "must be at least 1");
}

}  // namespace

Environment ProcessEnvironment() {
    Environment env;
    for (char** entry = environ; entry && *entry; ++entry) {
        std::string text(*entry);
        auto eq = text.find('=');
        if (eq != std::string::npos) env[text.substr(0, eq)] = text.substr(eq + 1);
    }
    return env;
}

Config ParseConfig(const std::string& toml_text, const Environment& env,
                   const std::string& source_name, Secrets secrets) {
    Config config;
    auto keys = KnownKeys(config);
    toml::table root;
    try {
        root = toml::parse(toml_text, source_name);
    } catch (const toml::parse_error& e) {
        std::ostringstream where;
        where << source_name << ":" << e.source().begin.line;
        throw ConfigError(where.str(), std::string("TOML syntax error: ") + std::string(e.description()));
    }
    ApplyToml(root, keys, config);
    ApplyEnvironment(env, keys, config);
    Validate(config, secrets);
    return config;
}

std::vector<std::pair<std::string, std::string>> EffectiveValues(const Config& config) {
    Config copy = config;  // KnownKeys wants targets it may write; nothing is written here
    std::vector<std::pair<std::string, std::string>> values;
    for (const auto& key : KnownKeys(copy)) {
        std::string text = std::visit(
            [](auto* target) -> std::string {
                using T = std::remove_pointer_t<decltype(target)>;
                if constexpr (std::is_same_v<T, std::string>) return *target;
                else if constexpr (std::is_same_v<T, bool>) return *target ? "true" : "false";
                else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                    std::string joined;
                    for (const auto& item : *target) joined += (joined.empty() ? "" : ",") + item;
                    return joined;
                } else {
                    std::ostringstream out;
                    out << *target;
                    return out.str();
                }
            },
            key.target);
        if (key.dotted() == "auth0.client_secret" && !text.empty()) text = "***";
        values.emplace_back(key.dotted(), text);
    }
    for (const auto& [name, value] : config.kafka.properties) {
        // Every credential librdkafka takes inline: passwords, secrets, SASL configs, private
        // keys and PEM blobs, tokens.
        bool secret = false;
        for (const char* part : {"password", "secret", "oauthbearer", "sasl.jaas", "key", ".pem",
                                 "token", "credential"}) {
            secret = secret || name.find(part) != std::string::npos;
        }
        values.emplace_back("kafka.properties." + name, secret ? "***" : value);
    }
    return values;
}

Config LoadConfig(const std::string& path, const Environment& env, Secrets secrets) {
    std::ifstream in(path);
    if (!in) throw ConfigError("--config", "cannot read '" + path + "'");
    std::stringstream text;
    text << in.rdbuf();
    return ParseConfig(text.str(), env, path, secrets);
}

}  // namespace kyc_bridge::config
