// SPDX-License-Identifier: Apache-2.0
// The security issue end to end: Auth0 over https with a private CA (a certificate that does not
// verify is a quarantine that spends no job's attempt), and the settings kyc-bridge refuses to
// start with (plain http://, a secret file others can read, the Kafka properties it owns).
// Needs the openssl command line tool (Debian package openssl) to make the CA.
#include <httplib.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Probe {
    int status = 0;  ///< 0: no answer
    json body;
    std::string detail;  ///< what went wrong, for the failure message
};

/// GET on the daemon's plain-http ops port.
Probe OpsGet(int port, const std::string& path) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(5, 0);
    auto r = client.Get(path);
    if (!r) return {};
    return {r->status, json::parse(r->body, nullptr, false), r->body};
}

bool HasReason(const Probe& p, const std::string& reason) {
    if (!p.body.is_object() || !p.body.contains("reasons")) return false;
    for (const auto& r : p.body["reasons"]) {
        if (r == reason) return true;
    }
    return false;
}

std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> LinesWith(const std::string& text,
                                   const std::vector<std::string>& needles) {
    std::vector<std::string> found;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        bool all = true;
        for (const auto& n : needles) all = all && line.find(n) != std::string::npos;
        if (all) found.push_back(line);
    }
    return found;
}

constexpr const char* kJobsQuery =
    "SELECT customer_id, state, attempts, "
    "(SELECT count(*) FROM job_attempts a WHERE a.job_id = jobs.job_id) FROM jobs";

struct CloseDb {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct FinalizeStmt {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

struct JobRow {
    std::string state;
    int attempts = 0;         ///< jobs.attempts: the attempts that failed (a success adds none)
    int attempts_logged = 0;  ///< rows in job_attempts, one per failed attempt
};

class TlsTest : public PipelineTest {
protected:
    /// Runs a shell command; fails the test with its output when it does not exit 0.
    void Shell(const std::string& command) {
        const auto out = dir_ + "/shell.out";
        const int status = std::system((command + " > " + out + " 2>&1").c_str());
        ASSERT_EQ(status, 0) << command << "\n" << ReadFile(out);
    }

    /// A private CA and a certificate for 127.0.0.1 and localhost signed by it, in dir_/pki.
    void MakePki() {
        ASSERT_EQ(std::system("openssl version > /dev/null 2>&1"), 0)
            << "the openssl command line tool is missing (Debian package openssl)";
        pki_ = dir_ + "/pki";
        std::filesystem::create_directories(pki_);
        std::ofstream(pki_ + "/pki.cnf")
            << "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n"
            << "[ca]\nbasicConstraints = critical,CA:TRUE\n"
            << "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
            << "[server]\nbasicConstraints = critical,CA:FALSE\n"
            << "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
            << "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
            << "authorityKeyIdentifier = keyid\n";
        const std::string p = pki_ + "/";
        const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        ASSERT_NO_FATAL_FAILURE(Shell("openssl req -x509 -config " + p + "pki.cnf -extensions ca" +
                                      ec + " -keyout " + p + "ca.key -out " + p +
                                      "ca.pem -days 2 -subj '/CN=kyc-bridge test CA'"));
        ASSERT_NO_FATAL_FAILURE(Shell("openssl req -new -config " + p + "pki.cnf" + ec +
                                      " -keyout " + p + "server.key -out " + p +
                                      "server.csr -subj /CN=127.0.0.1"));
        ASSERT_NO_FATAL_FAILURE(Shell("openssl x509 -req -in " + p + "server.csr -CA " + p +
                                      "ca.pem -CAkey " + p + "ca.key -CAcreateserial -out " + p +
                                      "server.pem -days 2 -extfile " + p +
                                      "pki.cnf -extensions server"));
        ca_file_ = p + "ca.pem";
    }

    /// The emulator as the fixture starts it, serving https with the test certificate on `host`.
    void StartTlsEmulator(const std::string& host = "127.0.0.1") {
        emulator_ = std::make_unique<ChildProcess>(
            std::vector<std::string>{RequiredEnv("AUTH0_EMULATOR"), "--listen", host + ":0",
                                     "--port-file", dir_ + "/emulator.port", "--client-id",
                                     "it-client", "--client-secret", "it-secret", "--roles",
                                     "ROLE_CUSTOMER,ROLE_ADMIN", "--tls-cert", pki_ + "/server.pem",
                                     "--tls-key", pki_ + "/server.key"},
            std::map<std::string, std::string>{}, dir_ + "/emulator.log");
        tls_host_ = host;
        tls_port_ = std::stoi(WaitForFile(dir_ + "/emulator.port", 20s));
        emulator_url_ = "https://" + host + ":" + std::to_string(tls_port_);
    }

    /// GET on the https emulator trusting only the test CA (the fixture's helpers speak plain
    /// http). `verify` false: any certificate, for an emulator whose name does not match.
    Probe EmulatorHttpsGet(const std::string& path, bool verify = true) {
        httplib::SSLClient client(tls_host_, tls_port_);
        client.set_ca_cert_path(ca_file_);
        client.enable_server_certificate_verification(verify);
        client.set_connection_timeout(2, 0);
        client.set_read_timeout(10, 0);
        auto r = client.Get(path);
        if (!r) return {0, {}, httplib::to_string(r.error())};
        return {r->status, json::parse(r->body, nullptr, false), r->body};
    }

    /// Users whose app_metadata.customer_id is set, by customer id (UsersByCustomer over https).
    std::map<std::string, int> TlsUsersByCustomer() {
        auto probe = EmulatorHttpsGet("/__emulator/users");
        EXPECT_EQ(probe.status, 200) << probe.detail;
        std::map<std::string, int> by_customer;
        if (!probe.body.is_array()) return by_customer;
        for (const auto& user : probe.body) {
            auto metadata = user.value("app_metadata", json::object());
            if (metadata.contains("customer_id")) ++by_customer[metadata["customer_id"]];
        }
        return by_customer;
    }

    /// Starts the daemon and remembers where its part of daemon.log begins.
    void Start(const std::map<std::string, std::string>& env) {
        const auto log = dir_ + "/daemon.log";
        log_mark_ = std::filesystem::exists(log) ? std::filesystem::file_size(log) : 0;
        StartDaemon(env);
    }

    /// What the daemon last started wrote to stdout and stderr so far.
    std::string Log() { return ReadFile(dir_ + "/daemon.log").substr(log_mark_); }

    /// Starts the daemon with `env`; returns its exit code (-1: still running after 15 s).
    int ExitCodeOfStart(const std::map<std::string, std::string>& env) {
        Start(env);
        return daemon_->WaitExit(15s).value_or(-1);
    }

    /// https only (the fixture's config allows http), the ops port, and the CA if `with_ca`.
    std::map<std::string, std::string> TlsEnv(int ops_port, bool with_ca) {
        std::map<std::string, std::string> env{
            {"KYC_BRIDGE_AUTH0_ALLOW_INSECURE_HTTP", "false"},
            {"KYC_BRIDGE_HTTP_LISTEN", "127.0.0.1:" + std::to_string(ops_port)}};
        if (with_ca) env["KYC_BRIDGE_AUTH0_CA_FILE"] = ca_file_;
        return env;
    }

    /// Auth0 calls made so far, from /metrics: during the quarantine each is a refused handshake.
    static int Auth0Calls(int port) {
        int total = 0;
        std::istringstream in(ScrapeMetrics(port));
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("kyc_bridge_auth0_requests_total{", 0) == 0) {
                total += std::atoi(line.c_str() + line.rfind(' ') + 1);
            }
        }
        return total;
    }

    /// `kyc-bridge status --json` on the test config, as an operator runs it.
    json StoreStatus() {
        const auto out = dir_ + "/status.json";
        std::filesystem::remove(out);
        ChildProcess cli(
            {RequiredEnv("KYC_BRIDGE"), "status", "--json", "--config", dir_ + "/config.toml"}, {},
            out);
        EXPECT_EQ(cli.WaitExit(20s), 0);
        return json::parse(ReadFile(out), nullptr, false);
    }

    /// state and attempts of every job, by customer, read from the store file.
    std::map<std::string, JobRow> Jobs() {
        std::map<std::string, JobRow> jobs;
        sqlite3* raw = nullptr;
        const auto path = dir_ + "/store/kyc-bridge.db";
        const int opened = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
        std::unique_ptr<sqlite3, CloseDb> db(raw);
        if (opened != SQLITE_OK) return jobs;
        sqlite3_busy_timeout(db.get(), 5000);
        sqlite3_stmt* stmt_raw = nullptr;
        if (sqlite3_prepare_v2(db.get(), kJobsQuery, -1, &stmt_raw, nullptr) != SQLITE_OK) {
            return jobs;  // no schema yet
        }
        std::unique_ptr<sqlite3_stmt, FinalizeStmt> stmt(stmt_raw);
        while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
            jobs[reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0))] = {
                reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 1)),
                sqlite3_column_int(stmt.get(), 2), sqlite3_column_int(stmt.get(), 3)};
        }
        return jobs;
    }

    std::string pki_;
    std::string ca_file_;
    std::string tls_host_;
    int tls_port_ = 0;
    std::uintmax_t log_mark_ = 0;
};

TEST_F(TlsTest, UntrustedCertificateQuarantinesWithoutSpendingAttemptsUntilCaFileIsGiven) {
    ASSERT_NO_FATAL_FAILURE(MakePki());
    StartTlsEmulator();
    const auto probe = EmulatorHttpsGet("/__emulator/users");
    ASSERT_EQ(probe.status, 200) << "the emulator serves https with the test CA: " << probe.detail;

    // No ca_file: the emulator's certificate does not verify against the system's CAs.
    const int port = FreeLoopbackPort();
    const auto started = Clock::now();
    Start(TlsEnv(port, /*with_ca=*/false));
    const std::string host = "127.0.0.1:" + std::to_string(tls_port_) + ")";
    const std::vector<std::string> quarantine_line = {"event=quarantine ", "code=tls", host};
    WaitUntil([&] { return !LinesWith(Log(), quarantine_line).empty(); }, 20s,
              "a quarantine line with code=tls naming " + host);
    std::vector<std::pair<std::string, std::string>> events;
    for (int i = 1; i <= 5; ++i) {
        const auto customer = "cus_tls_" + std::to_string(i);
        events.emplace_back(customer, KycEvent("evt-tls-" + std::to_string(i), customer,
                                               "tls" + std::to_string(i) + "@example.com")
                                          .dump());
    }
    Publish(events);
    Probe ready;
    WaitUntil([&] { return HasReason(ready = OpsGet(port, "/readyz"), "auth0_tls"); }, 20s,
              "/readyz naming auth0_tls");
    EXPECT_EQ(ready.status, 503) << ready.detail;
    // The role lookup retries with a doubling delay: four refused handshakes take about 8 s,
    // and the quarantine is logged once (once a minute).
    WaitUntil([&] { return Auth0Calls(port) >= 4; }, 20s, "four refused handshakes");
    EXPECT_EQ(LinesWith(Log(), quarantine_line).size(), 1u) << Log();
    EXPECT_LT(Clock::now() - started, 20s);
    EXPECT_TRUE(daemon_->Running());
    EXPECT_TRUE(TlsUsersByCustomer().empty()) << "nothing provisioned during the quarantine";
    EXPECT_TRUE(Jobs().empty()) << "no event consumed, so no job, during the quarantine";
    EXPECT_EQ(OpsGet(port, "/healthz").status, 200);
    const auto quarantined = StoreStatus();
    EXPECT_EQ(quarantined["quarantine"]["state"], "yes") << quarantined.dump();
    EXPECT_EQ(quarantined["quarantine"].value("reason", "").rfind("tls: ", 0), 0u)
        << quarantined.dump();

    const auto stopping = Clock::now();
    EXPECT_EQ(StopDaemon(), 0) << Log();
    const auto stop_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopping).count();
    std::cerr << "SIGTERM during the quarantine: exited after " << stop_ms << " ms\n";
    EXPECT_EQ(LinesWith(Log(), quarantine_line).size(), 1u) << Log();
    EXPECT_TRUE(PublishedCustomers().empty());

    // With the CA: every event is provisioned at its first attempt.
    const int port2 = FreeLoopbackPort();
    Start(TlsEnv(port2, /*with_ca=*/true));
    WaitUntil(
        [&] {
            auto jobs = Jobs();
            return jobs.size() == 5 && std::all_of(jobs.begin(), jobs.end(), [](const auto& j) {
                       return j.second.state == "done";
                   });
        },
        60s, "5 jobs done after the restart with ca_file");
    for (const auto& [customer, job] : Jobs()) {
        EXPECT_EQ(job.attempts, 0) << customer << ": an attempt failed";
        EXPECT_EQ(job.attempts_logged, 0) << customer << ": an attempt failed";
    }
    const auto users = TlsUsersByCustomer();
    EXPECT_EQ(users.size(), 5u);
    for (const auto& [customer, count] : users) EXPECT_EQ(count, 1) << customer;
    WaitUntil([&] { return PublishedCustomers().size() == 5; }, 30s,
              "5 customers on auth.user_created");
    WaitUntil([&] { return OpsGet(port2, "/readyz").status == 200; }, 30s, "ready with the CA");
    EXPECT_TRUE(LinesWith(Log(), {"event=quarantine"}).empty()) << Log();
    const auto lifted = StoreStatus();
    EXPECT_EQ(lifted["quarantine"]["state"], "no")
        << "kyc-bridge status after the restart that fixed it: " << lifted.dump();
    EXPECT_EQ(StopDaemon(), 0) << Log();
}

TEST_F(TlsTest, CertificateForAnotherHostQuarantines) {
    ASSERT_NO_FATAL_FAILURE(MakePki());
    // 127.0.0.2 is loopback too, but the certificate names 127.0.0.1 and localhost only.
    StartTlsEmulator("127.0.0.2");
    const auto refused = EmulatorHttpsGet("/__emulator/users");
    ASSERT_EQ(refused.status, 0) << "httplib refuses the name too";
    ASSERT_EQ(refused.detail, "SSLServerVerification");
    const auto probe = EmulatorHttpsGet("/__emulator/users", /*verify=*/false);
    ASSERT_EQ(probe.status, 200) << "the emulator serves https on 127.0.0.2: " << probe.detail;

    const int port = FreeLoopbackPort();
    Start(TlsEnv(port, /*with_ca=*/true));
    const std::string host = "127.0.0.2:" + std::to_string(tls_port_) + ")";
    WaitUntil(
        [&] {
            return !LinesWith(Log(), {"event=quarantine ", "code=tls", host}).empty();
        },
        20s, "a quarantine line with code=tls naming " + host);
    Probe ready;
    WaitUntil([&] { return HasReason(ready = OpsGet(port, "/readyz"), "auth0_tls"); }, 20s,
              "/readyz naming auth0_tls");
    EXPECT_EQ(ready.status, 503) << ready.detail;
    EXPECT_EQ(StopDaemon(), 0) << Log();
}

TEST_F(TlsTest, PlainHttpBaseUrlIsRefusedUnlessAllowed) {
    StartEmulator();
    ASSERT_EQ(emulator_url_.rfind("http://", 0), 0u);
    EXPECT_EQ(ExitCodeOfStart({{"KYC_BRIDGE_AUTH0_ALLOW_INSECURE_HTTP", "false"}}), 2) << Log();
    const auto log = Log();
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << "one line:\n" << log;
    EXPECT_EQ(LinesWith(log, {"auth0.base_url"}).size(), 1u) << log;
}

TEST_F(TlsTest, ClientSecretFileReadableByOthersIsRefused) {
    StartEmulator();
    const auto secret = dir_ + "/client-secret";
    std::ofstream(secret) << "it-secret\n";
    namespace fs = std::filesystem;
    fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                fs::perms::others_read);
    // An empty KYC_BRIDGE_AUTH0_CLIENT_SECRET replaces the config file's inline secret, so the
    // secret comes from the file.
    const int port = FreeLoopbackPort();
    const std::map<std::string, std::string> env{
        {"KYC_BRIDGE_AUTH0_CLIENT_SECRET", ""},
        {"KYC_BRIDGE_AUTH0_CLIENT_SECRET_FILE", secret},
        {"KYC_BRIDGE_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}};
    EXPECT_EQ(ExitCodeOfStart(env), 2) << Log();
    EXPECT_EQ(LinesWith(Log(), {"auth0.client_secret_file", "0644", "readable by group or others"})
                  .size(),
              1u)
        << Log();

    fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
    Start(env);
    // Ready means a token was granted: the emulator accepted the secret read from the file.
    WaitUntil([&] { return OpsGet(port, "/readyz").status == 200; }, 30s,
              "ready with the secret from a 0600 file");
    EXPECT_EQ(StopDaemon(), 0) << Log();
}

TEST_F(TlsTest, OwnedKafkaPropertiesAreRefused) {
    StartEmulator();
    const std::pair<const char*, const char*> owned[] = {
        {"enable.auto.commit", "true"},
        {"enable.auto.offset.store", "true"},
        {"isolation.level", "read_uncommitted"},
        {"enable.idempotence", "false"},
        {"acks", "1"},
        {"max.in.flight.requests.per.connection", "10"},
    };
    for (const auto& [name, value] : owned) {
        std::string variable = std::string("KYC_BRIDGE_KAFKA_PROPERTIES_") + name;
        for (char& c : variable) {
            c = c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        EXPECT_EQ(ExitCodeOfStart({{variable, value}}), 2) << variable << "\n" << Log();
        EXPECT_EQ(LinesWith(Log(), {std::string("kafka.properties.") + name}).size(), 1u)
            << variable << "\n"
            << Log();
    }
}

}  // namespace
}  // namespace kyc_bridge::testing
