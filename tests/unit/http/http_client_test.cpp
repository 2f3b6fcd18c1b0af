// SPDX-License-Identifier: Apache-2.0
// HttpClient against an in-process cpp-httplib server.
#include "kyc_bridge/http/http_client.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace kyc_bridge::http {
namespace {

using namespace std::chrono_literals;

class LocalServer {
public:
    /// `threads` > 0: that many handler threads (each keep-alive connection holds one).
    explicit LocalServer(int threads = 0) {
        if (threads > 0) {
            server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
        }
        // cpp-httplib closes a keep-alive connection after 5 requests by default; curl may reuse
        // it at that moment and see a reset (a transient error the daemon retries, but a flake
        // here). Keep connections open for the whole test.
        server_.set_keep_alive_max_count(100000);
        // It writes headers and body apart: without this, Nagle and the client's delayed ACK
        // hold every body back 40 ms.
        server_.set_tcp_nodelay(true);
        int listen_fd = -1;
        server_.set_socket_options([&listen_fd](socket_t sock) {
            httplib::default_socket_options(sock);
            listen_fd = sock;
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        // cpp-httplib listens with a backlog of 5, and a burst of connects beyond it waits for a
        // SYN resend (1 s, then 3 s). Listening again on the socket raises the backlog (Linux).
        if (listen_fd >= 0) ::listen(listen_fd, 1024);
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
    // Generous: a loaded machine may still drop a SYN now and then (resent after 1 s).
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

TEST(HttpClient, StartsManyRequestsWithoutAThreadEach) {
    constexpr int kRequests = 200;
    LocalServer local(256);
    local.server().Get("/slow", [](const httplib::Request&, httplib::Response& res) {
        std::this_thread::sleep_for(100ms);
        res.set_content("ok", "text/plain");
    });
    struct {
        std::mutex mutex;
        std::condition_variable changed;
        int completed = 0;
        int ok = 0;
        std::set<std::thread::id> threads;
        std::string first_error;
    } seen;
    HttpClient client(Insecure());  // after `seen`: its Shutdown ends callbacks while it lives

    const auto begin = std::chrono::steady_clock::now();
    for (int i = 0; i < kRequests; ++i) {
        client.Start({"GET", local.Url("/slow"), {}, {}}, [&seen](core::Result<Response> r) {
            std::lock_guard lock(seen.mutex);
            seen.threads.insert(std::this_thread::get_id());
            if (r && r->body == "ok") {
                ++seen.ok;
            } else if (seen.first_error.empty()) {
                seen.first_error = r ? "status " + std::to_string(r->status) : r.error().message;
            }
            ++seen.completed;
            seen.changed.notify_all();
        });
    }
    std::unique_lock lock(seen.mutex);
    ASSERT_TRUE(seen.changed.wait_for(lock, 10s, [&] { return seen.completed == kRequests; }))
        << seen.completed << " of " << kRequests << " completed";
    const auto elapsed = std::chrono::steady_clock::now() - begin;

    EXPECT_EQ(seen.ok, kRequests) << seen.first_error;
    // One after another they would take 20 s.
    EXPECT_LT(elapsed, 5s);
    ASSERT_EQ(seen.threads.size(), 1u);
    EXPECT_NE(*seen.threads.begin(), std::this_thread::get_id());
    EXPECT_EQ(client.in_flight(), 0u);
}

TEST(HttpClient, ReusesConnections) {
    LocalServer local;
    std::mutex mutex;
    std::set<int> remote_ports;
    local.server().Get("/n", [&](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(mutex);
        remote_ports.insert(req.remote_port);
        res.set_content("ok", "text/plain");
    });
    HttpClient client(Insecure());
    for (int i = 0; i < 20; ++i) {
        auto r = client.Perform({"GET", local.Url("/n"), {}, {}});
        ASSERT_TRUE(r) << r.error().message;
    }
    std::lock_guard lock(mutex);
    EXPECT_LE(remote_ports.size(), 2u);
    EXPECT_GT(*remote_ports.begin(), 0);  // the server did report the client's port
}

TEST(HttpClient, ShutdownEndsRequestsInFlight) {
    // Before the server: its handler threads use them until the server is gone.
    std::promise<void> entered;
    std::once_flag enter_once;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    LocalServer local;
    local.server().Get("/hang", [&](const httplib::Request&, httplib::Response& res) {
        std::call_once(enter_once, [&] { entered.set_value(); });
        released.wait_for(5s);
        res.set_content("late", "text/plain");
    });
    // Lets the handler (and so the server's destructor) finish however the test ends.
    struct Release {
        std::promise<void>& promise;
        ~Release() { promise.set_value(); }
    } release_at_end{release};

    HttpClient client(Insecure());
    std::promise<core::Result<Response>> answer;
    auto answered = answer.get_future();
    client.Start({"GET", local.Url("/hang"), {}, {}},
                 [&answer](core::Result<Response> r) { answer.set_value(std::move(r)); });
    ASSERT_EQ(entered.get_future().wait_for(3s), std::future_status::ready);
    EXPECT_EQ(client.in_flight(), 1u);

    const auto begin = std::chrono::steady_clock::now();
    client.Shutdown();
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);

    EXPECT_EQ(client.in_flight(), 0u);
    ASSERT_EQ(answered.wait_for(0s), std::future_status::ready);  // before Shutdown returned
    auto r = answered.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, core::ErrorKind::kTransient);
    EXPECT_EQ(r.error().code, "shutdown");
}

TEST(HttpClient, StartAfterShutdownCompletesAtOnce) {
    HttpClient client(Insecure());
    client.Shutdown();
    client.Shutdown();  // idempotent
    std::optional<core::Result<Response>> answer;
    client.Start({"GET", "http://127.0.0.1:1/", {}, {}},
                 [&answer](core::Result<Response> r) { answer.emplace(std::move(r)); });
    ASSERT_TRUE(answer.has_value());  // no loop thread left: completed inside Start
    ASSERT_FALSE(*answer);
    EXPECT_EQ(answer->error().code, "shutdown_unsent") << "never left the process";
    EXPECT_EQ(client.in_flight(), 0u);
}

TEST(HttpClient, CallbackNeverRunsInsideStart) {
    HttpClient client(Options{});  // plain http:// refused before libcurl sees it
    struct Seen {
        std::thread::id thread;
        core::Result<Response> result;
    };
    std::promise<Seen> answer;
    auto answered = answer.get_future();
    client.Start({"GET", "http://127.0.0.1:1/", {}, {}}, [&answer](core::Result<Response> r) {
        answer.set_value(Seen{std::this_thread::get_id(), std::move(r)});
    });
    ASSERT_EQ(answered.wait_for(3s), std::future_status::ready);
    Seen seen = answered.get();
    EXPECT_NE(seen.thread, std::this_thread::get_id());
    ASSERT_FALSE(seen.result);
    EXPECT_EQ(seen.result.error().kind, core::ErrorKind::kConfiguration);
    EXPECT_EQ(seen.result.error().code, "insecure_url");
}

TEST(ParseHttpDate, ReadsImfFixdate) {
    auto t = ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT");
    ASSERT_TRUE(t);
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count(),
              784111777);
    EXPECT_FALSE(ParseHttpDate("not a date"));
}

TEST(ParseHttpDate, FarFutureDatesAreClampedRatherThanOverflowing) {
    auto t = ParseHttpDate("Fri, 31 Dec 9999 23:59:59 GMT");
    ASSERT_TRUE(t);
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count(),
              7'258'118'400);
    EXPECT_GT(*t, std::chrono::system_clock::now());
}

}  // namespace
}  // namespace kyc_bridge::http
