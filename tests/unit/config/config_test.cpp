// SPDX-License-Identifier: Apache-2.0
// Config loading: defaults, file values, environment overrides, one-line errors naming the key.
#include "kyc_bridge/config/config.hpp"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>

#include <sys/stat.h>

#include <gtest/gtest.h>

namespace kyc_bridge::config {
namespace {

const char* kMinimal = R"(
[auth0]
client_id = "abc"
client_secret = "s3cret"
)";

std::string ErrorOf(const std::string& text, const Environment& env = {}) {
    try {
        ParseConfig(text, env);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

TEST(Config, AppliesDefaultsAndResolvesDerivedKeys) {
    auto c = ParseConfig(kMinimal, {});
    EXPECT_EQ(c.kafka.brokers, "embedded");
    EXPECT_EQ(c.kafka.input_topic, "customer.kyc_verified");
    EXPECT_EQ(c.kafka.dead_letter_topic, "customer.kyc_verified.dlq");
    EXPECT_EQ(c.auth0.base_url, "https://mockbank.eu.auth0.com");
    EXPECT_EQ(c.auth0.audience, "https://mockbank.eu.auth0.com/api/v2/");
    EXPECT_EQ(c.auth0.email_client_id, "abc");
    EXPECT_EQ(c.auth0.roles, std::vector<std::string>{"ROLE_CUSTOMER"});
    EXPECT_EQ(c.retry.initial_backoff_ms, 200);
    EXPECT_EQ(c.retry.max_backoff_ms, 60000);
    EXPECT_EQ(c.retry.max_attempts, 12);
    EXPECT_EQ(c.retry.max_age_s, 86400);
    EXPECT_EQ(c.auth0.connect_timeout_ms, 3000);
    EXPECT_EQ(c.auth0.request_timeout_ms, 10000);
    EXPECT_EQ(c.daemon.shutdown_timeout_s, 30);
}

TEST(Config, ReadsEveryKindOfValueAndKafkaProperties) {
    auto c = ParseConfig(R"(
[kafka]
brokers = "b1:9092,b2:9092"
[kafka.properties]
"security.protocol" = "SASL_SSL"
"socket.keepalive.enable" = true
"fetch.wait.max.ms" = 50
[auth0]
client_id = "abc"
client_secret = "s"
roles = ["ROLE_A", "ROLE_B"]
max_requests_per_second = 7.5
allow_insecure_http = true
base_url = "http://127.0.0.1:8080/"
)", {});
    EXPECT_EQ(c.kafka.brokers, "b1:9092,b2:9092");
    EXPECT_EQ(c.kafka.properties.at("security.protocol"), "SASL_SSL");
    EXPECT_EQ(c.kafka.properties.at("socket.keepalive.enable"), "true");
    EXPECT_EQ(c.kafka.properties.at("fetch.wait.max.ms"), "50");
    EXPECT_EQ(c.auth0.roles, (std::vector<std::string>{"ROLE_A", "ROLE_B"}));
    EXPECT_DOUBLE_EQ(c.auth0.max_requests_per_second, 7.5);
    EXPECT_EQ(c.auth0.base_url, "http://127.0.0.1:8080");
}

TEST(Config, EnvironmentOverridesEveryKeyKind) {
    auto c = ParseConfig(kMinimal, {{"KYC_BRIDGE_AUTH0_BASE_URL", "https://emu.local"},
                                    {"KYC_BRIDGE_AUTH0_CLIENT_SECRET", "from-env"},
                                    {"KYC_BRIDGE_AUTH0_ROLES", "ROLE_X,ROLE_Y"},
                                    {"KYC_BRIDGE_AUTH0_ALLOW_INSECURE_HTTP", "true"},
                                    {"KYC_BRIDGE_RETRY_MAX_ATTEMPTS", "3"},
                                    {"KYC_BRIDGE_KAFKA_PROPERTIES_SECURITY_PROTOCOL", "SSL"},
                                    {"UNRELATED", "x"}});
    EXPECT_EQ(c.auth0.base_url, "https://emu.local");
    EXPECT_EQ(c.auth0.client_secret, "from-env");
    EXPECT_EQ(c.auth0.roles, (std::vector<std::string>{"ROLE_X", "ROLE_Y"}));
    EXPECT_TRUE(c.auth0.allow_insecure_http);
    EXPECT_EQ(c.retry.max_attempts, 3);
    EXPECT_EQ(c.kafka.properties.at("security.protocol"), "SSL");
}

TEST(Config, ReadsTheSecretFromAFile) {
    std::string path = ::testing::TempDir() + "/secret.txt";
    std::ofstream(path) << "file-secret\n";
    ::chmod(path.c_str(), 0600);
    auto c = ParseConfig("[auth0]\nclient_id = \"abc\"\nclient_secret_file = \"" + path + "\"\n", {});
    EXPECT_EQ(c.auth0.client_secret, "file-secret");
    EXPECT_EQ(ErrorOf("[auth0]\nclient_id = \"abc\"\nclient_secret_file = \"/nonexistent/x\"\n"),
              "auth0.client_secret_file: cannot read '/nonexistent/x'");
}

// Issue #9: the secret can change every user of the tenant; ssh refuses a 0644 key the same way.
TEST(Config, RefusesASecretFileThatGroupOrOthersCanRead) {
    std::string path = ::testing::TempDir() + "/secret-0644.txt";
    std::ofstream(path) << "file-secret\n";
    for (mode_t mode : {0644, 0640, 0604, 0660}) {
        ::chmod(path.c_str(), mode);
        auto error = ErrorOf("[auth0]\nclient_id = \"abc\"\nclient_secret_file = \"" + path + "\"\n");
        EXPECT_EQ(error.rfind("auth0.client_secret_file: '" + path + "' has mode 0", 0), 0u) << error;
        EXPECT_NE(error.find("readable by group or others"), std::string::npos) << error;
        EXPECT_EQ(error.find("file-secret"), std::string::npos);
    }
    ::chmod(path.c_str(), 0400);
    EXPECT_EQ(ParseConfig("[auth0]\nclient_id = \"abc\"\nclient_secret_file = \"" + path + "\"\n", {})
                  .auth0.client_secret,
              "file-secret");
}

TEST(Config, WarnsOfAnInlineSecretAndOfPlainHttpAtEveryStart) {
    auto inline_secret = ParseConfig("[auth0]\nclient_id = \"abc\"\nclient_secret = \"s3cr3t\"\n", {});
    ASSERT_EQ(inline_secret.warnings.size(), 1u);
    EXPECT_NE(inline_secret.warnings[0].find("auth0.client_secret is written in the config file"),
              std::string::npos);
    EXPECT_EQ(inline_secret.warnings[0].find("s3cr3t"), std::string::npos);

    auto from_env = ParseConfig("[auth0]\nclient_id = \"abc\"\n",
                                {{"KYC_BRIDGE_AUTH0_CLIENT_SECRET", "s3cr3t"}});
    EXPECT_TRUE(from_env.warnings.empty());

    auto http = ParseConfig(
        "[auth0]\nclient_id = \"abc\"\nbase_url = \"http://127.0.0.1:1\"\nallow_insecure_http = true\n",
        {{"KYC_BRIDGE_AUTH0_CLIENT_SECRET", "s3cr3t"}});
    ASSERT_EQ(http.warnings.size(), 1u);
    EXPECT_NE(http.warnings[0].find("allow_insecure_http = true"), std::string::npos);
    EXPECT_EQ(ErrorOf("[auth0]\nclient_id = \"abc\"\nclient_secret = \"s\"\n"
                      "base_url = \"http://127.0.0.1:1\"\n"),
              "auth0.base_url: plain http:// is refused unless auth0.allow_insecure_http = true");
}

TEST(Config, ChecksTheCaFileAndTheDeadLetterCap) {
    EXPECT_EQ(ErrorOf(std::string(kMinimal) + "ca_file = \"/nonexistent/ca.pem\"\n"),
              "auth0.ca_file: cannot read '/nonexistent/ca.pem'");
    std::string not_pem = ::testing::TempDir() + "/not-a-ca.pem";
    std::ofstream(not_pem) << "hello\n";
    EXPECT_EQ(ErrorOf(std::string(kMinimal) + "ca_file = \"" + not_pem + "\"\n"),
              "auth0.ca_file: '" + not_pem + "' holds no PEM certificate");
    EXPECT_EQ(ErrorOf("[kafka]\ndead_letter_max_bytes = 2000000\n" + std::string(kMinimal)),
              "kafka.dead_letter_max_bytes: must be 1024 to 900000 (below the producer's "
              "message.max.bytes, 1000000 by default)");
    EXPECT_EQ(ErrorOf("[store]\nkeep_personal_data_s = -1\n" + std::string(kMinimal)),
              "store.keep_personal_data_s: must not be negative");
}

TEST(Config, ErrorsNameTheKey) {
    EXPECT_EQ(ErrorOf("[auth0]\nclient_secret = \"s\"\n"), "auth0.client_id: is required");
    EXPECT_EQ(ErrorOf(std::string(kMinimal) + "color = 1\n"), "auth0.color: unknown key");
    EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[bogus]\nx = 1\n"), "bogus: unknown section");
    EXPECT_EQ(ErrorOf(std::string(kMinimal) + "connect_timeout_ms = \"fast\"\n"),
              "auth0.connect_timeout_ms: must be an integer");
    EXPECT_EQ(ErrorOf(std::string(kMinimal) + "base_url = \"http://x\"\n"),
              "auth0.base_url: plain http:// is refused unless auth0.allow_insecure_http = true");
    EXPECT_EQ(ErrorOf(std::string(kMinimal) + "password_setup = \"sms\"\n"),
              "auth0.password_setup: must be change_password_email, verification_email or none, "
              "not 'sms'");
    EXPECT_EQ(ErrorOf(kMinimal, {{"KYC_BRIDGE_RETRY_MAX_ATTEMPTS", "many"}}),
              "KYC_BRIDGE_RETRY_MAX_ATTEMPTS (retry.max_attempts): 'many' is not a number");
    EXPECT_EQ(ErrorOf(kMinimal, {{"KYC_BRIDGE_AUTH0_CLIENTID", "x"}}),
              "KYC_BRIDGE_AUTH0_CLIENTID: unknown configuration variable");
    EXPECT_NE(ErrorOf("[auth0\n").find("TOML syntax error"), std::string::npos);
}

TEST(Config, ShippedExampleFilesAreValid) {
    Environment env{{"KYC_BRIDGE_AUTH0_CLIENT_SECRET", "x"}};
    EXPECT_NO_THROW(LoadConfig(KYC_BRIDGE_SOURCE_ROOT "/config/kyc-bridge.toml", env));
    EXPECT_NO_THROW(LoadConfig(KYC_BRIDGE_SOURCE_ROOT "/config/demo.toml", env));
}

TEST(Config, KafkaPropertiesCannotSwitchOffTheDeliveryGuarantees) {
    for (const char* owned : {"enable.auto.commit", "enable.auto.offset.store", "isolation.level",
                              "enable.idempotence", "acks",
                              "max.in.flight.requests.per.connection"}) {
        auto text = std::string(kMinimal) + "[kafka.properties]\n\"" + owned + "\" = \"x\"\n";
        EXPECT_NE(ErrorOf(text).find(std::string("kafka.properties.") + owned + ": is set by "
                                     "kyc-bridge"),
                  std::string::npos)
            << owned;
        // The environment override (KYC_BRIDGE_KAFKA_PROPERTIES_ENABLE_AUTO_COMMIT) likewise.
        std::string env_name = std::string("KYC_BRIDGE_KAFKA_PROPERTIES_") + owned;
        for (auto& c : env_name) c = c == '.' ? '_' : static_cast<char>(std::toupper(c));
        EXPECT_THROW(ParseConfig(kMinimal, {{env_name, "x"}}), ConfigError) << env_name;
    }
    EXPECT_NO_THROW(ParseConfig(std::string(kMinimal) + "[kafka.properties]\n\"linger.ms\" = \"5\"\n", {}));
}

TEST(Config, SkippingSecretsNeedsNoCredentialsAndReadsNoSecretFile) {
    const char* store_only = R"(
[auth0]
client_secret_file = "/nonexistent/secret"
[store]
path = "/var/lib/kyc-bridge/kyc-bridge.db"
)";
    EXPECT_NE(ErrorOf(store_only).find("auth0.client_id"), std::string::npos);
    auto c = ParseConfig(store_only, {}, "config", Secrets::kSkip);
    EXPECT_EQ(c.store.path, "/var/lib/kyc-bridge/kyc-bridge.db");
    EXPECT_TRUE(c.auth0.client_secret.empty());
    // Everything else is still validated.
    EXPECT_THROW(ParseConfig("[store]\nbusy_timeout_ms = -1\n", {}, "config", Secrets::kSkip),
                 ConfigError);
}

TEST(Config, EffectiveValuesMaskSecrets) {
    auto c = ParseConfig(std::string(kMinimal) + "[kafka.properties]\n\"sasl.password\" = \"pw\"\n"
                                                 "\"security.protocol\" = \"SASL_SSL\"\n"
                                                 "\"ssl.key.pem\" = \"-----BEGIN PRIVATE KEY-----\"\n",
                         {});
    std::map<std::string, std::string> values;
    for (const auto& [key, value] : EffectiveValues(c)) values[key] = value;
    EXPECT_EQ(values.at("auth0.client_secret"), "***");
    EXPECT_EQ(values.at("auth0.client_id"), "abc");
    EXPECT_EQ(values.at("kafka.properties.sasl.password"), "***");
    EXPECT_EQ(values.at("kafka.properties.security.protocol"), "SASL_SSL");
    EXPECT_EQ(values.at("kafka.properties.ssl.key.pem"), "***") << "an inline private key";
    EXPECT_EQ(values.at("auth0.roles"), "ROLE_CUSTOMER");
    for (const auto& [key, value] : values) EXPECT_EQ(value.find("s3cret"), std::string::npos) << key;
}

}  // namespace
}  // namespace kyc_bridge::config
