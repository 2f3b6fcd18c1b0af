// SPDX-License-Identifier: Apache-2.0
// The daemon under a service manager (issue #11), without one: the test binds the datagram
// socket systemd would pass as NOTIFY_SOCKET (sd_notify(3)) and checks what the real binary
// sends — READY=1 only once /readyz is 200, WATCHDOG=1 at about a third of WATCHDOG_USEC, and
// STOPPING=1 on SIGTERM. A build without libsystemd sends nothing: the test is skipped.
#include <httplib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "pipeline_fixture.hpp"

namespace kyc_bridge::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

/// A bound AF_UNIX datagram socket collecting every notification, each with when it came.
class NotifySocket {
public:
    explicit NotifySocket(const std::string& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        if (fd_ < 0 || path.size() >= sizeof address.sun_path) throw std::runtime_error("socket");
        path.copy(address.sun_path, path.size());
        ::unlink(path.c_str());
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            throw std::runtime_error("cannot bind " + path);
        }
        timeval timeout{0, 200'000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        reader_ = std::thread([this] { Read(); });
    }
    ~NotifySocket() {
        done_ = true;
        reader_.join();
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    struct Message {
        std::string text;
        std::chrono::steady_clock::time_point at;
    };
    std::vector<Message> Messages() {
        std::lock_guard lock(mutex_);
        return messages_;
    }
    /// How many received datagrams carry the line `line` (e.g. "READY=1").
    int Count(const std::string& line) {
        int n = 0;
        for (const auto& m : Messages()) n += Has(m.text, line);
        return n;
    }
    static bool Has(const std::string& text, const std::string& line) {
        return ("\n" + text + "\n").find("\n" + line + "\n") != std::string::npos;
    }

private:
    void Read() {
        char buffer[4096];
        while (!done_) {
            const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n <= 0) continue;
            std::lock_guard lock(mutex_);
            messages_.push_back({std::string(buffer, static_cast<std::size_t>(n)),
                                 std::chrono::steady_clock::now()});
        }
    }
    std::string path_;
    int fd_ = -1;
    std::atomic<bool> done_{false};
    std::mutex mutex_;
    std::vector<Message> messages_;
    std::thread reader_;
};

int ReadyzStatus(int port) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(2, 0);
    auto r = client.Get("/readyz");
    return r ? r->status : 0;
}

class SystemdNotify : public PipelineTest {
protected:
    void SetUp() override {
        PipelineTest::SetUp();
        // sd_notify(3) in the binary is compiled in only with libsystemd; the build tells us.
        if (std::getenv("KYC_BRIDGE_HAVE_SYSTEMD") == nullptr ||
            std::string(std::getenv("KYC_BRIDGE_HAVE_SYSTEMD")) != "1") {
            GTEST_SKIP() << "built without libsystemd (meson option systemd): nothing is sent";
        }
    }
};

TEST_F(SystemdNotify, ReadyOnlyWhenReadyzIsWatchdogWhileHealthyStoppingOnSigterm) {
    StartEmulator();
    // Refused credentials at start: the daemon waits in the start-up quarantine, not ready.
    EmulatorPost("/__emulator/credentials", {{"reject_for_ms", 4000}});
    NotifySocket socket(dir_ + "/notify.sock");
    const int port = FreeLoopbackPort();
    StartDaemon({{"NOTIFY_SOCKET", dir_ + "/notify.sock"},
                 {"WATCHDOG_USEC", "2000000"},  // 2 s: a ping every ~0.7 s
                 {"KYC_BRIDGE_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}});

    WaitUntil([&] { return ReadyzStatus(port) == 503; }, 30s, "the daemon answering, not ready");
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(socket.Count("READY=1"), 0) << "READY=1 while /readyz says not ready";
    WaitUntil([&] { return socket.Count("READY=1") == 1; }, 60s, "READY=1 once Auth0 accepts");
    // Before READY=1, a STATUS= named the start-up quarantine (refused credentials), not just
    // "starting".
    bool told_why = false;
    for (const auto& m : socket.Messages()) {
        if (NotifySocket::Has(m.text, "READY=1")) break;
        told_why |= m.text.find("STATUS=not ready") != std::string::npos &&
                    m.text.find("auth0_") != std::string::npos;
    }
    EXPECT_TRUE(told_why) << "STATUS= should say why it is not ready";
    EXPECT_EQ(ReadyzStatus(port), 200) << "READY=1 sent while /readyz is not 200";

    // Watchdog pings keep coming, about every third of the interval, never near the interval.
    std::this_thread::sleep_for(4s);
    std::vector<std::chrono::steady_clock::time_point> pings;
    for (const auto& m : socket.Messages()) {
        if (NotifySocket::Has(m.text, "WATCHDOG=1")) pings.push_back(m.at);
    }
    ASSERT_GE(pings.size(), 4u) << "WATCHDOG=1 should come more than once a second";
    for (std::size_t i = 1; i < pings.size(); ++i) {
        EXPECT_LT(pings[i] - pings[i - 1], 1900ms) << "a watchdog gap near WATCHDOG_USEC";
    }

    EXPECT_EQ(socket.Count("STOPPING=1"), 0);
    EXPECT_EQ(StopDaemon(), 0);
    EXPECT_EQ(socket.Count("STOPPING=1"), 1);
    EXPECT_EQ(socket.Count("READY=1"), 1) << "READY=1 is sent once";
}

TEST_F(SystemdNotify, NoWatchdogPingsWithoutWatchdogUsec) {
    StartEmulator();
    NotifySocket socket(dir_ + "/notify.sock");
    StartDaemon({{"NOTIFY_SOCKET", dir_ + "/notify.sock"}});
    WaitUntil([&] { return socket.Count("READY=1") == 1; }, 60s, "READY=1");
    std::this_thread::sleep_for(2s);
    EXPECT_EQ(socket.Count("WATCHDOG=1"), 0);
    EXPECT_EQ(StopDaemon(), 0);
    EXPECT_EQ(socket.Count("STOPPING=1"), 1);
}

}  // namespace
}  // namespace kyc_bridge::testing
