// SPDX-License-Identifier: Apache-2.0
// HttpAuth0Api against an in-process cpp-httplib fake of Auth0.
#include "kyc_bridge/auth0/management_client.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
// The default backlog of 5 drops SYNs when many connections open at once (a 1 s resend each).
#define CPPHTTPLIB_LISTEN_BACKLOG 128
#include <httplib.h>

namespace kyc_bridge::auth0 {
namespace {

using core::ErrorKind;
using nlohmann::json;
using namespace std::chrono_literals;

const json kUserJson = {
    {"user_id", "auth0|cus_1"},
    {"email", "jane@example.com"},
    {"given_name", "Jane"},
    {"app_metadata", {{"customer_id", "cus_1"}}},
    {"identities", json::array({{{"connection", "Username-Password-Authentication"}}})}};

// Blocks until an async call's callback ran, so that the tests read as before the API became
// async. Shared: the callback's thread may still be inside set_value when get() returns.
template <typename T, typename Start>
core::Result<T> Wait(Start start) {
    auto promise = std::make_shared<std::promise<core::Result<T>>>();
    auto future = promise->get_future();
    start([promise](core::Result<T> result) { promise->set_value(std::move(result)); });
    return future.get();
}

// A gate a fake handler waits at (never longer than 5 s, so a failing test still ends).
class Gate {
public:
    void Open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        cv_.notify_all();
    }
    void Pass() {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, 5s, [&] { return open_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false;
};

// A minimal Auth0: /oauth/token hands out tok-1, tok-2, …; the /api/v2 handlers are per test.
class FakeAuth0 {
public:
    FakeAuth0() {
        // More workers than cpp-httplib's default 8, for the tests with many requests in flight.
        server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
        server_.set_tcp_nodelay(true);  // no 40 ms Nagle/delayed-ACK stall per keep-alive answer
        server_.Post("/oauth/token", [this](const httplib::Request& req, httplib::Response& res) {
            if (token_gate) token_gate->Pass();
            std::lock_guard lock(mutex);
            token_bodies.push_back(req.body);
            if (json_only && req.get_header_value("Content-Type") != "application/json") {
                res.status = 400;
                res.set_content(
                    R"({"error":"invalid_request","error_description":"JSON expected"})",
                    "application/json");
                return;
            }
            if (token_status != 200) {
                res.status = token_status;
                res.set_content(R"({"error":"access_denied","error_description":"Unauthorized"})",
                                "application/json");
                return;
            }
            res.set_content(json{{"access_token", "tok-" + std::to_string(token_bodies.size())},
                                 {"expires_in", expires_in},
                                 {"token_type", "Bearer"}}
                                .dump(),
                            "application/json");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(1ms);
    }
    ~FakeAuth0() {
        server_.stop();
        thread_.join();
    }
    httplib::Server& server() { return server_; }
    ClientSettings Settings() const {
        ClientSettings s;
        s.base_url = "http://127.0.0.1:" + std::to_string(port_) + "/";
        s.client_id = "cid";
        s.client_secret = "s3cret&=";
        s.audience = "https://tenant.example/api/v2/";
        s.allow_insecure_http = true;
        // cpp-httplib listens with a backlog of 5: a burst of connects can wait for a SYN resend.
        s.connect_timeout_ms = 5000;
        s.request_timeout_ms = 5000;
        return s;
    }

    std::mutex mutex;
    std::vector<std::string> token_bodies;
    int token_status = 200;
    bool json_only = false;            ///< a stand-in that refuses form bodies
    json expires_in = 86400;           ///< what the token answer says about its lifetime
    std::shared_ptr<Gate> token_gate;  ///< set before the first request: holds token answers

private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
};

TEST(HttpAuth0Api, ATokenEndpointThatWantsJsonGetsJsonFromThenOn) {
    FakeAuth0 auth0;
    auth0.json_only = true;
    int calls = 0;
    auth0.server().Get("/api/v2/roles", [&](const httplib::Request&, httplib::Response& res) {
        if (++calls == 1) {  // the first token is refused once: a refetch follows
            res.status = 401;
            return;
        }
        res.set_content(R"([{"id":"rol_1","name":"ROLE_CUSTOMER"}])", "application/json");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto roles = api.FindRoles("ROLE_CUSTOMER");
    ASSERT_TRUE(roles.ok()) << roles.error().message;
    std::lock_guard lock(auth0.mutex);
    ASSERT_EQ(auth0.token_bodies.size(), 3u) << "form refused, JSON accepted, then JSON at once";
    EXPECT_EQ(auth0.token_bodies[0].front(), 'g');  // grant_type=…
    EXPECT_EQ(json::parse(auth0.token_bodies[1])["client_secret"], "s3cret&=");
    EXPECT_EQ(auth0.token_bodies[2].front(), '{');
}

// Fuzzer finding: a lifetime beyond int64 was converted with get<int64_t> (undefined).
TEST(HttpAuth0Api, AnAbsurdTokenLifetimeIsClampedAndTheTokenStillCached) {
    FakeAuth0 auth0;
    auth0.expires_in = 1e300;
    auth0.server().Get("/api/v2/roles", [&](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"([{"id":"rol_1","name":"ROLE_CUSTOMER"}])", "application/json");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    ASSERT_TRUE(api.FindRoles("ROLE_CUSTOMER").ok());
    ASSERT_TRUE(api.FindRoles("ROLE_CUSTOMER").ok());
    std::lock_guard lock(auth0.mutex);
    EXPECT_EQ(auth0.token_bodies.size(), 1u);
}

NewUser SampleUser() {
    NewUser u;
    u.user_id = "cus_1";
    u.connection = "Username-Password-Authentication";
    u.email = "jane@example.com";
    u.password = "pw";
    u.given_name = "Jane";
    u.app_metadata = {{"customer_id", "cus_1"}};
    return u;
}

core::Result<User> CreateUser(Auth0Api& api, const NewUser& user) {
    return Wait<User>([&](auto done) { api.CreateUser(user, std::move(done)); });
}
core::Result<std::optional<User>> GetUser(Auth0Api& api, const std::string& id) {
    return Wait<std::optional<User>>([&](auto done) { api.GetUser(id, std::move(done)); });
}

TEST(HttpAuth0Api, CreateUserSendsTheBodyAndParsesThe201) {
    FakeAuth0 auth0;
    json seen;
    std::string authorization;
    auth0.server().Post("/api/v2/users", [&](const httplib::Request& req, httplib::Response& res) {
        seen = json::parse(req.body);
        authorization = req.get_header_value("Authorization");
        res.status = 201;
        res.set_content(kUserJson.dump(), "application/json");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto user = CreateUser(api, SampleUser());
    ASSERT_TRUE(user) << user.error().message;
    EXPECT_EQ(user->user_id, "auth0|cus_1");
    EXPECT_EQ(user->connection, "Username-Password-Authentication");
    EXPECT_EQ(user->given_name, "Jane");
    EXPECT_FALSE(user->family_name);
    EXPECT_EQ(user->app_metadata["customer_id"], "cus_1");
    EXPECT_EQ(authorization, "Bearer tok-1");
    EXPECT_EQ(seen["user_id"], "cus_1");
    EXPECT_EQ(seen["verify_email"], false);
    EXPECT_EQ(seen["password"], "pw");
    EXPECT_FALSE(seen.contains("family_name"));
    ASSERT_EQ(auth0.token_bodies.size(), 1u);
    const std::string& form = auth0.token_bodies[0];
    EXPECT_NE(form.find("grant_type=client_credentials"), std::string::npos);
    EXPECT_NE(form.find("client_secret=s3cret%26%3D"), std::string::npos);
    EXPECT_NE(form.find("audience=https%3A%2F%2Ftenant.example%2Fapi%2Fv2%2F"), std::string::npos);
    EXPECT_EQ(api.stats().requests.load(), 2u);
    EXPECT_EQ(api.stats().token_fetches.load(), 1u);
}

TEST(HttpAuth0Api, DuplicateCreateIsConflict) {
    FakeAuth0 auth0;
    auth0.server().Post("/api/v2/users", [](const httplib::Request&, httplib::Response& res) {
        res.status = 409;
        res.set_content(
            R"({"statusCode":409,"error":"Conflict","message":"The user already exists.","errorCode":"auth0_idp_error"})",
            "application/json");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto user = CreateUser(api, SampleUser());
    ASSERT_FALSE(user);
    EXPECT_EQ(user.error().kind, ErrorKind::kConflict);
    EXPECT_EQ(user.error().http_status, 409);
    EXPECT_EQ(user.error().message.find("jane"), std::string::npos);
}

TEST(HttpAuth0Api, A401RefetchesTheTokenOnceAndRepeatsTheCall) {
    FakeAuth0 auth0;
    std::atomic<int> calls{0};
    auth0.server().Post("/api/v2/users", [&](const httplib::Request& req, httplib::Response& res) {
        ++calls;
        if (req.get_header_value("Authorization") == "Bearer tok-1") {
            res.status = 401;
            res.set_content(
                R"({"statusCode":401,"error":"Unauthorized","message":"Expired token received for JSON Web Token validation"})",
                "application/json");
            return;
        }
        res.status = 201;
        res.set_content(kUserJson.dump(), "application/json");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto user = CreateUser(api, SampleUser());
    ASSERT_TRUE(user) << user.error().message;
    EXPECT_EQ(calls.load(), 2);
    EXPECT_EQ(api.stats().token_fetches.load(), 2u);
}

// Issue #9: a fresh token refused too is a tenant problem: it quarantines, it does not fail the job.
TEST(HttpAuth0Api, ASecond401IsAConfigurationProblem) {
    FakeAuth0 auth0;
    std::atomic<int> calls{0};
    auth0.server().Get(R"(/api/v2/roles)", [&](const httplib::Request&, httplib::Response& res) {
        ++calls;
        res.status = 401;
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto status = api.Probe();
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().kind, ErrorKind::kConfiguration);
    EXPECT_EQ(status.error().code, "unauthorized_twice");
    EXPECT_NE(status.error().message.find("401 twice"), std::string::npos);
    EXPECT_EQ(calls.load(), 2);
}

TEST(HttpAuth0Api, TokenEndpointRefusalIsConfigurationAndNotRetried) {
    FakeAuth0 auth0;
    auth0.token_status = 401;
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto status = api.Probe();
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().kind, ErrorKind::kConfiguration);
    EXPECT_EQ(status.error().message.find("s3cret"), std::string::npos);
    // Once as a form, once as JSON (a stand-in might want that), then no more.
    EXPECT_EQ(auth0.token_bodies.size(), 2u);
    EXPECT_FALSE(api.Probe());
    EXPECT_EQ(auth0.token_bodies.size(), 2u) << "a failed fetch is not repeated within a second";
}

TEST(HttpAuth0Api, A429IsRateLimitedWithNotBeforeFromTheReset) {
    FakeAuth0 auth0;
    auth0.server().Post("/api/v2/users", [](const httplib::Request&, httplib::Response& res) {
        res.status = 429;
        res.set_header("x-ratelimit-limit", "50");
        res.set_header("x-ratelimit-remaining", "0");
        res.set_header("x-ratelimit-reset", "1800000042");
        res.set_content(
            R"({"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"})",
            "application/json");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto user = CreateUser(api, SampleUser());
    ASSERT_FALSE(user);
    EXPECT_EQ(user.error().kind, ErrorKind::kRateLimited);
    ASSERT_TRUE(user.error().not_before);
    EXPECT_EQ(user.error().not_before->time_since_epoch(), std::chrono::seconds{1'800'000'042});
    EXPECT_EQ(api.stats().rate_limited.load(), 1u);
    // The next request waits (on the fake clock) until the reset.
    auto again = CreateUser(api, SampleUser());
    EXPECT_GE(clock.Now().time_since_epoch(), std::chrono::seconds{1'800'000'042});
}

TEST(HttpAuth0Api, PercentEncodesTheUserIdAndGets404AsNothing) {
    FakeAuth0 auth0;
    std::string target;
    auth0.server().Get(R"(/api/v2/users/(.*))", [&](const httplib::Request& req,
                                                    httplib::Response& res) {
        target = req.target;
        res.status = 404;
        res.set_content(
            R"({"statusCode":404,"error":"Not Found","message":"The user does not exist.","errorCode":"inexistent_user"})",
            "application/json");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto user = GetUser(api, "auth0|x y/z");
    ASSERT_TRUE(user) << user.error().message;
    EXPECT_FALSE(user->has_value());
    EXPECT_EQ(target, "/api/v2/users/auth0%7Cx%20y%2Fz");
}

TEST(HttpAuth0Api, GetUsersByEmailEncodesTheQuery) {
    FakeAuth0 auth0;
    std::string email;
    auth0.server().Get("/api/v2/users-by-email",
                       [&](const httplib::Request& req, httplib::Response& res) {
                           email = req.get_param_value("email");
                           res.set_content(json::array({kUserJson}).dump(), "application/json");
                       });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto users = Wait<std::vector<User>>(
        [&](auto done) { api.GetUsersByEmail("j+1@example.com", std::move(done)); });
    ASSERT_TRUE(users) << users.error().message;
    ASSERT_EQ(users->size(), 1u);
    EXPECT_EQ(email, "j+1@example.com");
}

TEST(HttpAuth0Api, ChangePasswordCarriesNoTokenAndIsNotPaced) {
    FakeAuth0 auth0;
    std::string authorization = "unset";
    json seen;
    auth0.server().Post(
        "/dbconnections/change_password", [&](const httplib::Request& req, httplib::Response& res) {
            authorization = req.get_header_value("Authorization");
            seen = json::parse(req.body);
            res.set_content("We've just sent you an email to reset your password.", "text/plain");
        });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto status = Wait<void>([&](auto done) {
        api.SendPasswordChangeEmail("jane@example.com", "Username-Password-Authentication", "app",
                                    std::move(done));
    });
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(authorization, "");
    EXPECT_EQ(seen["client_id"], "app");
    EXPECT_EQ(auth0.token_bodies.size(), 0u);
    EXPECT_EQ(api.pacer_stats().requests_paced.load(), 0u);
}

TEST(HttpAuth0Api, MalformedSuccessIsTransient) {
    FakeAuth0 auth0;
    auth0.server().Post("/api/v2/users", [](const httplib::Request&, httplib::Response& res) {
        res.status = 201;
        res.set_content("<html>proxy</html>", "text/html");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto user = CreateUser(api, SampleUser());
    ASSERT_FALSE(user);
    EXPECT_EQ(user.error().kind, ErrorKind::kTransient);
}

TEST(HttpAuth0Api, AssignRolesAccepts204) {
    FakeAuth0 auth0;
    json seen;
    auth0.server().Post(R"(/api/v2/users/(.*)/roles)",
                        [&](const httplib::Request& req, httplib::Response& res) {
                            seen = json::parse(req.body);
                            res.status = 204;
                        });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    ASSERT_TRUE(Wait<void>([&](auto done) {
        api.AssignRoles("auth0|cus_1", {"rol_1", "rol_2"}, std::move(done));
    }));
    EXPECT_EQ(seen, (json{{"roles", {"rol_1", "rol_2"}}}));
}

TEST(HttpAuth0Api, SixteenConcurrentCallersShareOneToken) {
    FakeAuth0 auth0;
    auth0.server().Get(R"(/api/v2/users/(.*))",
                       [](const httplib::Request&, httplib::Response& res) {
                           std::this_thread::sleep_for(5ms);
                           res.set_content(kUserJson.dump(), "application/json");
                       });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 16; ++i) {
        threads.emplace_back([&] {
            for (int n = 0; n < 5; ++n) ok += GetUser(api, "auth0|cus_1").ok() ? 1 : 0;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 80);
    EXPECT_EQ(auth0.token_bodies.size(), 1u);
}

TEST(HttpAuth0Api, ManyCallsInFlightShareOneTokenFetch) {
    FakeAuth0 auth0;
    constexpr int kCalls = 100;
    constexpr auto kLatency = 50ms;
    std::atomic<int> running{0};
    std::atomic<int> most_running{0};
    auth0.server().Post("/api/v2/users", [&](const httplib::Request&, httplib::Response& res) {
        const int now_running = ++running;
        int seen = most_running.load();
        while (now_running > seen && !most_running.compare_exchange_weak(seen, now_running)) {
        }
        std::this_thread::sleep_for(kLatency);  // a slow Auth0, not synchronisation
        --running;
        res.status = 201;
        res.set_content(kUserJson.dump(), "application/json");
    });
    core::FakeClock clock;
    ClientSettings settings = auth0.Settings();
    settings.max_connections = 16;  // below the fake's 32 workers: none waits for a worker
    HttpAuth0Api api(settings, clock);

    std::latch finished(kCalls);
    std::atomic<int> ok{0};
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) {  // all from this one thread: none of them blocks it
        api.CreateUser(SampleUser(), [&](core::Result<User> user) {
            if (user) ++ok;
            finished.count_down();
        });
    }
    finished.wait();
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(ok.load(), kCalls);
    EXPECT_EQ(auth0.token_bodies.size(), 1u);
    EXPECT_EQ(api.stats().token_fetches.load(), 1u);
    EXPECT_GE(most_running.load(), 4) << "requests were not in flight together";
    EXPECT_LT(took, kCalls * kLatency / 2) << "serial would take " << kCalls * 50 << " ms";
}

TEST(HttpAuth0Api, AssignUsersToRoleTakesUsersWhenGranted) {
    FakeAuth0 auth0;
    auth0.token_gate = std::make_shared<Gate>();
    std::vector<json> bodies;
    std::string target;
    auth0.server().Post(R"(/api/v2/roles/(.*)/users)",
                        [&](const httplib::Request& req, httplib::Response& res) {
                            std::lock_guard lock(auth0.mutex);
                            bodies.push_back(json::parse(req.body));
                            target = req.target;
                            if (req.get_header_value("Authorization") == "Bearer tok-1") {
                                res.status = 401;  // the repeat must send the same batch
                                return;
                            }
                            res.set_content("{}", "application/json");
                        });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    std::mutex queue_mutex;
    std::vector<std::string> queue = {"auth0|a"};
    std::atomic<int> takes{0};
    auto take_users = [&] {
        ++takes;
        std::lock_guard lock(queue_mutex);
        return std::exchange(queue, {});
    };
    auto promise = std::make_shared<std::promise<core::Status>>();
    auto result = promise->get_future();
    api.AssignUsersToRole("rol_1", take_users, [promise](core::Status status) {
        promise->set_value(std::move(status));
    });
    {
        // Queued while the request waits (here: for its token): they join the batch.
        std::lock_guard lock(queue_mutex);
        queue.push_back("auth0|b");
        queue.push_back("auth0|c");
    }
    EXPECT_EQ(takes.load(), 0) << "users taken before the request was granted";
    auth0.token_gate->Open();
    auto status = result.get();
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(takes.load(), 1);
    std::lock_guard lock(auth0.mutex);
    EXPECT_EQ(target, "/api/v2/roles/rol_1/users");
    ASSERT_EQ(bodies.size(), 2u);
    EXPECT_EQ(bodies[0], (json{{"users", {"auth0|a", "auth0|b", "auth0|c"}}}));
    EXPECT_EQ(bodies[1], bodies[0]);
}

TEST(HttpAuth0Api, BatchNotFoundIsReportedAs404) {
    FakeAuth0 auth0;
    auth0.server().Post(R"(/api/v2/roles/(.*)/users)", [](const httplib::Request&,
                                                          httplib::Response& res) {
        res.status = 404;
        res.set_content(
            R"({"statusCode":404,"error":"Not Found","message":"One or more of the users do not exist.","errorCode":"inexistent_user"})",
            "application/json");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto status = Wait<void>([&](auto done) {
        api.AssignUsersToRole(
            "rol_1",
            [] {
                return std::vector<std::string>{"auth0|a", "auth0|gone"};
            },
            std::move(done));
    });
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().http_status, 404);
    EXPECT_NE(status.error().message.find("POST /api/v2/roles/{id}/users"), std::string::npos);
    EXPECT_EQ(status.error().message.find("auth0|"), std::string::npos);
}

TEST(HttpAuth0Api, ShutdownEndsCallsInFlight) {
    FakeAuth0 auth0;
    auto gate = std::make_shared<Gate>();
    std::promise<void> entered;
    // gate by value: the server thread is still inside Pass() when this scope ends.
    auth0.server().Post("/api/v2/users", [&entered, gate](const httplib::Request&,
                                                          httplib::Response& res) {
        entered.set_value();
        gate->Pass();  // Auth0 does not answer while the test shuts down
        res.status = 201;
        res.set_content(kUserJson.dump(), "application/json");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto promise = std::make_shared<std::promise<core::Result<User>>>();
    auto result = promise->get_future();
    api.CreateUser(SampleUser(),
                   [promise](core::Result<User> user) { promise->set_value(std::move(user)); });
    entered.get_future().wait();
    api.Shutdown();
    ASSERT_EQ(result.wait_for(0s), std::future_status::ready) << "Shutdown left the call running";
    auto user = result.get();
    ASSERT_FALSE(user);
    EXPECT_EQ(user.error().kind, ErrorKind::kTransient);
    auto later = CreateUser(api, SampleUser());  // fails fast, no hang
    ASSERT_FALSE(later);
    EXPECT_EQ(later.error().kind, ErrorKind::kTransient);
    gate->Open();
}

TEST(ResolveRoleIds, MatchesNamesExactlyAndReportsMissingRoles) {
    FakeAuth0 auth0;
    std::string query;
    auth0.server().Get("/api/v2/roles", [&](const httplib::Request& req, httplib::Response& res) {
        query = req.target;
        res.set_content(
            R"([{"id":"rol_a","name":"ROLE_CUSTOMER_VIP"},{"id":"rol_b","name":"ROLE_CUSTOMER"},{"id":"rol_c","name":"role_customer"}])",
            "application/json");
    });
    core::FakeClock clock;
    HttpAuth0Api api(auth0.Settings(), clock);
    auto ids = ResolveRoleIds(api, {"ROLE_CUSTOMER"});
    ASSERT_TRUE(ids) << ids.error().message;
    EXPECT_EQ(*ids, std::vector<std::string>{"rol_b"});
    EXPECT_EQ(query, "/api/v2/roles?name_filter=ROLE_CUSTOMER&per_page=100");

    auto missing = ResolveRoleIds(api, {"Role_Customer"});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, ErrorKind::kConfiguration);
    EXPECT_EQ(missing.error().code, "role_not_found");
    EXPECT_NE(missing.error().message.find("Role_Customer"), std::string::npos);
}

TEST(PercentEncode, KeepsOnlyUnreservedCharacters) {
    EXPECT_EQ(PercentEncode("auth0|x"), "auth0%7Cx");
    EXPECT_EQ(PercentEncode("A-z_0.9~"), "A-z_0.9~");
    EXPECT_EQ(PercentEncode("a b+c@d"), "a%20b%2Bc%40d");
}

}  // namespace
}  // namespace kyc_bridge::auth0
