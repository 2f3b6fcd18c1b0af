// SPDX-License-Identifier: Apache-2.0
// The daemon's configuration: a TOML file, every key overridable by KYC_BRIDGE_<SECTION>_<KEY>.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kyc_bridge::config {

/// A missing or invalid key. what() is one line that names the key and what is wrong.
class ConfigError : public std::runtime_error {
public:
    ConfigError(const std::string& key, const std::string& problem)
        : std::runtime_error(key + ": " + problem), key_(key) {}
    const std::string& key() const { return key_; }

private:
    std::string key_;
};

struct KafkaConfig {
    std::string brokers = "embedded";  ///< bootstrap list, or "embedded" (in-process mock cluster)
    std::string group_id = "kyc-bridge";
    std::string input_topic = "customer.kyc_verified";
    std::string output_topic = "auth.user_created";
    std::string dead_letter_topic = "customer.kyc_verified.dlq";
    std::string revoked_topic = "customer.kyc_revoked";  ///< second input: deprovisioning
    std::string blocked_topic = "auth.user_blocked";     ///< second output
    int embedded_partitions = 3;
    /// A dead letter carries the original event only up to this size; a larger one goes as a
    /// truncated copy with its SHA-256, so a poison event can never block the relay.
    int dead_letter_max_bytes = 64 * 1024;
    std::map<std::string, std::string> properties;  ///< passed to librdkafka unchanged
};

struct Auth0Config {
    std::string domain = "mockbank.eu.auth0.com";
    std::string base_url;  ///< resolved: https://<domain> unless overridden
    bool allow_insecure_http = false;
    std::string ca_file;  ///< PEM CA certificates trusted in addition to the system bundle
    std::string client_id;
    std::string client_secret;  ///< resolved from client_secret or client_secret_file
    std::string client_secret_file;
    bool client_secret_inline = false;  ///< resolved: the secret was written in the TOML file
    std::string audience;  ///< resolved: https://<domain>/api/v2/ unless set
    std::string connection = "Username-Password-Authentication";
    std::vector<std::string> roles{"ROLE_CUSTOMER"};
    std::string password_setup = "change_password_email";
    std::string email_client_id;  ///< resolved: client_id unless set
    int connect_timeout_ms = 3000;
    int request_timeout_ms = 10000;
    double max_requests_per_second = 0;  ///< 0 = no cap beyond the tenant's own budget
};

struct StoreConfig {
    std::string path = "var/kyc-bridge.db";
    int busy_timeout_ms = 5000;
    int commit_interval_ms = 2;   ///< group commit: a transaction waits at most this long for company
    int commit_max_records = 64;  ///< … or commits as soon as this many records wait
    bool strict_modes = false;    ///< refuse (not just warn about) a group/world-readable store
    int keep_personal_data_s = 0;  ///< personal fields of a done job are erased after this long
};

struct HttpConfig {
    std::string listen = "127.0.0.1:9464";
};

struct LogConfig {
    std::string level = "info";
    std::string format = "text";
};

struct RetryConfig {
    int initial_backoff_ms = 200;
    int max_backoff_ms = 60000;
    int max_attempts = 12;
    int max_age_s = 86400;
    int conflict_max_attempts = 4;  ///< spaced retries of an unresolvable 409 before failing
};

struct ProvisionConfig {
    int concurrency = 64;          ///< jobs in flight at once (different customers)
    int max_emails_in_flight = 16;  ///< password-email calls in flight; a kill repeats at most this many
    int role_batch_size = 100;     ///< users per POST /api/v2/roles/{id}/users; 1 = one call per user
    int role_batch_wait_ms = 0;    ///< how long a lone user waits for company in a role batch
};

struct DeprovisionConfig {
    bool remove_roles = true;       ///< DELETE the roles kyc-bridge assigned on a revocation
    bool publish_not_found = true;  ///< publish auth.user_blocked with outcome not_found too
};

struct DaemonConfig {
    int shutdown_timeout_s = 30;
};

struct Config {
    KafkaConfig kafka;
    Auth0Config auth0;
    StoreConfig store;
    HttpConfig http;
    LogConfig log;
    RetryConfig retry;
    ProvisionConfig provision;
    DeprovisionConfig deprovision;
    DaemonConfig daemon;
    /// Resolved: what is allowed but unwise (a secret inline in the file, plain http), one line
    /// each, for the daemon to log at every start. Never holds a secret.
    std::vector<std::string> warnings;
};

/// Environment variables as name → value (injectable for tests).
using Environment = std::map<std::string, std::string>;

/// The process environment.
Environment ProcessEnvironment();

/// Whether the Auth0 credentials are needed. kSkip (the ops CLI, which only reads the store):
/// auth0.client_id and the secret are not required and the secret file is never read.
enum class Secrets { kRequire, kSkip };

/// Reads `path`, applies overrides from `env`, resolves defaults that depend on other keys
/// (base_url, audience, email_client_id, the secret file) and validates every key.
/// Throws ConfigError; unknown keys in the file or under a known KYC_BRIDGE_<SECTION>_ prefix
/// are errors.
Config LoadConfig(const std::string& path, const Environment& env,
                  Secrets secrets = Secrets::kRequire);

/// Every key as "section.name" → its effective value, in the documented order, for
/// `check-config`: auth0.client_secret and Kafka properties that hold a password or secret are
/// "***". Lists are comma-separated. Never throws.
std::vector<std::pair<std::string, std::string>> EffectiveValues(const Config& config);

/// The same from TOML text (for tests).
Config ParseConfig(const std::string& toml_text, const Environment& env,
                   const std::string& source_name = "config", Secrets secrets = Secrets::kRequire);

}  // namespace kyc_bridge::config
