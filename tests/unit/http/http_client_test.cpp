// SPDX-License-Identifier: Apache-2.0
// HttpClient against an in-process cpp-httplib server.
#include "kyc_bridge/http/http_client.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

namespace kyc_bridge::http {
namespace {

using namespace std::chrono_literals;

class LocalServer {
public:
    LocalServer() {
        // cpp-httplib closes a keep-alive connection after 5 requests by default; curl may reuse
        // it at that moment and see a reset (a transient error the daemon retries, but a flake
        // here). Keep connections open for the whole test.
        server_.set_keep_alive_max_count(100000);
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        // The socket already listens (bind_to_any_port); wait for the accept loop anyway.
        while (!server_.is_running()) std::this_thread::sleep_for(1ms);
    }
    ~LocalServer() {
        server_.stop();
        thread_.join();
    }
    httplib::Server& server() { return server_; }
    std::string Url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }

private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
};

Options Insecure() {
    Options o;
    o.allow_insecure_http = true;
    // cpp-httplib listens with a backlog of 5: a burst of connects can wait for a SYN resend (1 s).
    o.connect_timeout_ms = 5000;
    o.request_timeout_ms = 5000;
    return o;
}

TEST(HttpClient, ReturnsStatusLowerCasedHeadersAndBody) {
    LocalServer local;
    local.server().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
        res.status = 201;
        res.set_header("X-RateLimit-Remaining", "7");
        res.set_content(req.get_header_value("X-Test") + ":" + req.body, "text/plain");
    });
    HttpClient client(Insecure());
    auto r = client.Perform({"POST", local.Url("/echo"), {{"X-Test", "abc"}}, "payload"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "abc:payload");
    ASSERT_NE(r->Header("x-ratelimit-remaining"), nullptr);
    EXPECT_EQ(*r->Header("x-ratelimit-remaining"), "7");
    EXPECT_EQ(r->headers.at("content-type"), "text/plain");
}

TEST(HttpClient, ReturnsErrorStatusesAsAnswers) {
    LocalServer local;
    local.server().Patch("/x", [](const httplib::Request& req, httplib::Response& res) {
        res.status = req.method == "PATCH" ? 503 : 400;
    });
    HttpClient client(Insecure());
    auto r = client.Perform({"PATCH", local.Url("/x"), {}, "{}"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
}

TEST(HttpClient, DoesNotFollowRedirects) {
    LocalServer local;
    local.server().Get("/moved", [](const httplib::Request&, httplib::Response& res) {
        res.set_redirect("/elsewhere");
    });
    HttpClient client(Insecure());
    auto r = client.Perform({"GET", local.Url("/moved"), {}, {}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 302);
}

TEST(HttpClient, ServesConcurrentCallers) {
    LocalServer local;
    local.server().Get("/n", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("ok", "text/plain");
    });
    HttpClient client(Insecure());
    std::atomic<int> ok{0};
    std::mutex mutex;
    std::string first_error;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                auto r = client.Perform({"GET", local.Url("/n"), {}, {}});
                if (r && r->body == "ok") {
                    ++ok;
                } else {
                    std::lock_guard lock(mutex);
                    if (first_error.empty())
                        first_error = r ? "status " + std::to_string(r->status) : r.error().message;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 80) << first_error;
}

TEST(HttpClient, TimeoutIsTransient) {
    LocalServer local;
    local.server().Get("/slow", [](const httplib::Request&, httplib::Response& res) {
        std::this_thread::sleep_for(800ms);
        res.set_content("late", "text/plain");
    });
    Options o = Insecure();
    o.request_timeout_ms = 200;
    HttpClient client(o);
    auto r = client.Perform({"GET", local.Url("/slow?secret=1"), {}, {}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, core::ErrorKind::kTransient);
    EXPECT_EQ(r.error().code, "timeout");
    EXPECT_EQ(r.error().message.find("secret"), std::string::npos);
}

TEST(HttpClient, ConnectionRefusedIsTransient) {
    // A bound socket that never listens: connecting to it is refused.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const int port = ntohs(addr.sin_port);

    HttpClient client(Insecure());
    auto r = client.Perform({"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, {}});
    ::close(fd);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, core::ErrorKind::kTransient);
    EXPECT_EQ(r.error().code, "connect");
}

TEST(HttpClient, RefusesPlainHttpUnlessAllowed) {
    LocalServer local;
    local.server().Get("/",
                       [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    HttpClient client(Options{});
    auto r = client.Perform({"GET", local.Url("/"), {}, {}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, core::ErrorKind::kConfiguration);
    EXPECT_EQ(r.error().code, "insecure_url");
}

TEST(HttpClient, OversizedAnswerIsTransient) {
    LocalServer local;
    local.server().Get("/big", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(std::string(4096, 'x'), "text/plain");
    });
    Options o = Insecure();
    o.max_response_bytes = 1024;
    HttpClient client(o);
    auto r = client.Perform({"GET", local.Url("/big"), {}, {}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "too_large");
}

TEST(ParseHttpDate, ReadsImfFixdate) {
    auto t = ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT");
    ASSERT_TRUE(t);
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count(),
              784111777);
    EXPECT_FALSE(ParseHttpDate("not a date"));
}

}  // namespace
}  // namespace kyc_bridge::http
