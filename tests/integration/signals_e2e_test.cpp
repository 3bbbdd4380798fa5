// Signals end to end (DESIGN §2). SIGHUP reloads: the file is read again; a valid one is installed
// at once for new connections and new requests (routes, upstreams, certificates, listeners), an
// invalid one is logged and changes nothing; requests under load never fail across reloads.
// SIGTERM drains: no new connections, requests in flight finish (up to drain_timeout), idle
// keep-alive connections close at once, exit 0; a second signal exits at once.
#include "tests/integration/curl_client.hpp"
#include "tests/integration/danegate_runner.hpp"
#include "tests/integration/raw_tls_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <thread>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const testbed& bed()
{
    return testbed::get();
}

/** What one configuration of the suite's danegate says. */
struct shape {
    std::string extra_route;  ///< one more route line under the web listener, or empty
    std::string cert = "ta-leaf";
    std::uint16_t second_port = 0;  ///< a second listener "more" on this port, or none
    std::string broken;             ///< appended verbatim (to make the file invalid)
    std::string drain_timeout = "30s";
};

shape with_route(std::string route)
{
    shape s;
    s.extra_route = std::move(route);
    return s;
}

class reload_e2e : public ::testing::Test {
protected:
    void SetUp() override
    {
        port_ = free_tcp_port();
        config_ = bed().dir() / ("reload-" + std::to_string(port_) + ".yaml");
        write(shape{});
        proxy_ = std::make_unique<child_process>(std::vector<std::string>{danegate_binary(), "run", "-c", config_.string()},
                                                 bed().dir() / ("reload-" + std::to_string(port_) + ".log"));
        ASSERT_TRUE(wait_for_tcp("127.0.0.1", port_, 10s)) << proxy_->log();
    }

    void TearDown() override
    {
        if (proxy_ && proxy_->running()) {
            EXPECT_EQ(proxy_->stop(20s), 0) << proxy_->log();
        }
    }

    /** Sends @p signal and waits for the exit; @return how long that took (or 60 s). */
    std::chrono::milliseconds signal_and_wait_for_exit(int signal)
    {
        const auto start = std::chrono::steady_clock::now();
        EXPECT_EQ(::kill(proxy_->pid(), signal), 0);
        while (proxy_->running() && std::chrono::steady_clock::now() - start < 60s) {
            std::this_thread::sleep_for(10ms);
        }
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    }

    /** Restarts the suite's danegate with @p s. */
    void restart_with(const shape& s)
    {
        proxy_->stop(20s);
        write(s);
        proxy_ = std::make_unique<child_process>(std::vector<std::string>{danegate_binary(), "run", "-c", config_.string()},
                                                 bed().dir() / ("reload-" + std::to_string(port_) + "-2.log"));
        ASSERT_TRUE(wait_for_tcp("127.0.0.1", port_, 10s)) << proxy_->log();
    }

    void write(const shape& s)
    {
        const auto web50 = bed().endpoint("web50");
        std::ofstream out(config_);
        out << "threads: 2\n"
               "resolver:\n"
               "  trust_anchor_file: " << bed().trust_anchor_file().string() << "\n"
               "  forwarders: [ \"" << bed().forwarder() << "\" ]\n"
               "listeners:\n"
               "  - name: web\n"
               "    address: 127.0.0.1:" << port_ << "\n"
               "    tls:\n"
               "      certificates: [ { cert: " << bed().file(s.cert + ".pem").string()
            << ", key: " << bed().file(s.cert + ".key").string() << " } ]\n"
               "    routes:\n"
               "      - { match: { host: good.example }, upstream: good }\n";
        if (!s.extra_route.empty()) {
            out << "      - " << s.extra_route << "\n";
        }
        if (s.second_port != 0) {
            out << "  - name: more\n"
                   "    address: 127.0.0.1:" << s.second_port << "\n"
                   "    tls:\n"
                   "      certificates: [ { cert: " << bed().file("ta-leaf.pem").string()
                << ", key: " << bed().file("ta-leaf.key").string() << " } ]\n"
                   "    routes: [ { match: { host: good.example }, upstream: good } ]\n";
        }
        out << "upstreams:\n"
               "  - { name: good, endpoints: [ \"" << web50 << "\" ] }\n"
               "log: { access: off }\n"
               "drain_timeout: " << s.drain_timeout << "\n"
            << s.broken;
    }

    /** SIGHUP, then waits for danegate to log the outcome of that reload. */
    std::string reload()
    {
        const auto before = proxy_->log();
        const auto outcomes = count(before, "configuration reloaded") + count(before, "reload rejected");
        EXPECT_EQ(::kill(proxy_->pid(), SIGHUP), 0);
        for (int i = 0; i < 200; ++i) {
            const auto now = proxy_->log();
            if (count(now, "configuration reloaded") + count(now, "reload rejected") > outcomes) {
                return now.substr(before.size());
            }
            std::this_thread::sleep_for(25ms);
        }
        ADD_FAILURE() << "no reload outcome logged:\n" << proxy_->log();
        return {};
    }

    static std::size_t count(const std::string& text, const std::string& what)
    {
        std::size_t n = 0;
        for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
            ++n;
        }
        return n;
    }

    /** The subject of the certificate the listener on @p port presents. */
    static std::string presented_subject(std::uint16_t port)
    {
        return shell_output("openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                            " -servername good.example </dev/null 2>/dev/null | openssl x509 -noout -subject 2>/dev/null || true");
    }

    std::uint16_t port_ = 0;
    std::filesystem::path config_;
    std::unique_ptr<child_process> proxy_;
};

TEST_F(reload_e2e, a_valid_reload_routes_new_requests_the_new_way)
{
    EXPECT_EQ(status_of(curl_via(port_, "new.example", "/echo/before")), 404);
    write(with_route("{ match: { host: new.example }, upstream: good }"));
    EXPECT_THAT(reload(), HasSubstr("configuration reloaded"));
    EXPECT_EQ(status_of(curl_via(port_, "new.example", "/echo/after")), 200) << proxy_->log();
    EXPECT_EQ(status_of(curl_via(port_, "good.example", "/echo/still")), 200);
}

TEST_F(reload_e2e, a_request_in_flight_finishes_on_the_configuration_it_started_with)
{
    write(with_route("{ match: { host: slow.example }, upstream: good }"));
    ASSERT_THAT(reload(), HasSubstr("configuration reloaded"));
    std::string in_flight;
    std::thread slow([&] { in_flight = curl_via(port_, "slow.example", "/slow/1500"); });
    std::this_thread::sleep_for(500ms);
    write(shape{});  // slow.example has no route any more
    EXPECT_THAT(reload(), HasSubstr("configuration reloaded"));
    slow.join();
    EXPECT_EQ(status_of(in_flight), 200) << in_flight;
    EXPECT_EQ(status_of(curl_via(port_, "slow.example", "/slow/10")), 404) << "new requests use the new routes";
}

TEST_F(reload_e2e, an_invalid_reload_is_logged_and_changes_nothing)
{
    auto bad = with_route("{ match: { host: new.example }, upstream: good }");
    bad.broken = "no_such_key: 1\n";
    write(bad);
    const auto logged = reload();
    EXPECT_THAT(logged, HasSubstr("reload rejected"));
    EXPECT_THAT(logged, HasSubstr(config_.string() + ":")) << "each error with FILE:LINE:COL";
    EXPECT_THAT(logged, HasSubstr("no_such_key"));
    EXPECT_TRUE(proxy_->running());
    EXPECT_EQ(status_of(curl_via(port_, "good.example", "/echo/old")), 200);
    EXPECT_EQ(status_of(curl_via(port_, "new.example", "/echo/not-installed")), 404) << "nothing of the bad file";
}

TEST_F(reload_e2e, a_reload_rotates_the_certificate_of_a_listener_that_stays_bound)
{
    const auto before = presented_subject(port_);
    ASSERT_THAT(before, HasSubstr("subject=")) << before;
    shape rotated;
    rotated.cert = "ee";
    write(rotated);
    EXPECT_THAT(reload(), HasSubstr("configuration reloaded"));
    const auto subject = presented_subject(port_);
    EXPECT_THAT(subject, HasSubstr("subject=")) << subject;
    EXPECT_NE(subject, before) << "new handshakes must see the new certificate";
    EXPECT_EQ(status_of(curl_via(port_, "good.example", "/echo/rotated")), 200);
}

TEST_F(reload_e2e, a_reload_opens_and_closes_listeners)
{
    const auto second = free_tcp_port();
    shape two;
    two.second_port = second;
    write(two);
    EXPECT_THAT(reload(), HasSubstr("configuration reloaded"));
    EXPECT_EQ(status_of(curl_via(second, "good.example", "/echo/second")), 200) << proxy_->log();
    write(shape{});
    EXPECT_THAT(reload(), HasSubstr("configuration reloaded"));
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(wait_for_tcp("127.0.0.1", second, 1s)) << "the removed listener still accepts";
    EXPECT_EQ(status_of(curl_via(port_, "good.example", "/echo/first")), 200);
}

TEST_F(reload_e2e, reloads_every_200_ms_under_load_lose_no_request)
{
    std::atomic<bool> stop{false};
    std::atomic<int> sent{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> load;
    for (int client = 0; client < 2; ++client) {
        load.emplace_back([&] {
            while (!stop.load()) {
                for (const int status : curl_sequence(port_, "good.example", "/echo/load", 10)) {
                    ++sent;
                    failed += status == 200 ? 0 : 1;
                }
            }
        });
    }
    for (int i = 0; i < 15; ++i) {
        write(i % 2 == 0 ? with_route("{ match: { host: new.example }, upstream: good }") : shape{});
        EXPECT_THAT(reload(), HasSubstr("configuration reloaded"));
        std::this_thread::sleep_for(200ms);
    }
    stop = true;
    for (auto& thread : load) {
        thread.join();
    }
    EXPECT_EQ(failed.load(), 0) << "of " << sent.load() << "\n" << proxy_->log();
    EXPECT_GE(sent.load(), 50);
}

TEST_F(reload_e2e, sigterm_lets_slow_requests_in_flight_finish_and_exits_0)
{
    std::vector<std::string> replies(3);
    std::vector<std::thread> clients;
    for (auto& reply : replies) {
        clients.emplace_back([&reply, this] { reply = curl_via(port_, "good.example", "/slow/1500"); });
    }
    std::this_thread::sleep_for(400ms);
    EXPECT_EQ(::kill(proxy_->pid(), SIGTERM), 0);
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(wait_for_tcp("127.0.0.1", port_, 200ms)) << "still accepting while draining";
    for (auto& client : clients) {
        client.join();
    }
    for (const auto& reply : replies) {
        EXPECT_EQ(status_of(reply), 200) << reply;
    }
    EXPECT_EQ(proxy_->wait(), 0) << proxy_->log();
}

TEST_F(reload_e2e, an_idle_keep_alive_connection_does_not_hold_the_drain)
{
    tls_stream_exchange idle;
    std::thread client([&] {
        tls_stream_options options;
        options.end_after_send = false;
        options.quiet = 20s;
        idle = exchange_tls_stream("127.0.0.1", port_, "good.example", "", options);
    });
    std::this_thread::sleep_for(500ms);
    const auto took = signal_and_wait_for_exit(SIGTERM);  // drain_timeout is 30 s
    client.join();
    EXPECT_LT(took, 5s) << proxy_->log();
    EXPECT_EQ(proxy_->exit_code(), 0);
    EXPECT_TRUE(idle.handshake);
    EXPECT_TRUE(idle.peer_ended()) << "the idle connection was closed by the drain, not left to time out";
}

TEST_F(reload_e2e, drain_timeout_bounds_the_wait_for_requests_in_flight)
{
    shape quick;
    quick.drain_timeout = "1s";
    restart_with(quick);
    std::string reply;
    std::thread client([&] { reply = curl_via(port_, "good.example", "/slow/8000"); });
    std::this_thread::sleep_for(400ms);
    const auto took = signal_and_wait_for_exit(SIGTERM);
    client.join();
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 5s) << proxy_->log();
    EXPECT_NE(status_of(reply), 200) << reply;
}

TEST_F(reload_e2e, a_second_signal_stops_at_once)
{
    std::string reply;
    std::thread client([&] { reply = curl_via(port_, "good.example", "/slow/8000"); });
    std::this_thread::sleep_for(400ms);
    ASSERT_EQ(::kill(proxy_->pid(), SIGTERM), 0);
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(proxy_->running()) << "draining the slow request (drain_timeout 30 s)";
    const auto took = signal_and_wait_for_exit(SIGINT);
    client.join();
    EXPECT_LT(took, 3s) << proxy_->log();
}

}  // namespace
}  // namespace danegate::test
