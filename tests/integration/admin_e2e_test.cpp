// The admin listener end to end (issue 4 §1): a real danegate in front of the test bed, scraped
// over plain HTTP. Counters are exact (N requests read as N, by listener, route and code; every
// upstream attempt by result; every DANE decision by reason), the per-endpoint gauges say what the
// last attempt found (DNSSEC state, reason word, matched record, TLSA expiry, pool counts), the
// cache counters show a warm cache puts no DNS on the request path, and /readyz follows the
// upstreams and the drain. Each test reads deltas, so the suite's tests do not depend on order.
#include "tests/integration/admin_client.hpp"
#include "tests/integration/curl_client.hpp"
#include "tests/integration/e2e_proxy.hpp"
#include "tests/integration/raw_tls_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <thread>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using labels = metrics_text::label_set;


/** A danegate with an admin listener: `good` (web50) on route 0 and `wrong` (webwrong) on route 1. */
class admin_e2e : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        admin_port_ = free_tcp_port();
        proxy_ = std::make_unique<e2e_proxy>(
            "admin",
            "      - { match: { host: good.example }, upstream: good }\n"
            "      - { match: { host: wrong.example }, upstream: wrong }\n",
            "  - { name: good, endpoints: [ \"" + testbed::get().endpoint("web50") + "\" ] }\n"
            "  - { name: wrong, endpoints: [ \"" + testbed::get().endpoint("webwrong") + "\" ], health: { max_failures: 1000 } }\n",
            "admin: { address: 127.0.0.1:" + std::to_string(admin_port_) + " }\n");
        ASSERT_TRUE(wait_for_log(proxy_->process(), "admin listening on", 10s)) << proxy_->log();
    }

    static void TearDownTestSuite()
    {
        if (proxy_) {
            proxy_->expect_no_sanitizer_reports();
            proxy_->stop();
            proxy_.reset();
        }
    }

    static metrics_text scrape_now() { return scrape(admin_port_); }

    static inline std::uint16_t admin_port_ = 0;
    static inline std::unique_ptr<e2e_proxy> proxy_;
};

TEST_F(admin_e2e, n_requests_are_counted_as_n_by_listener_route_and_code)
{
    constexpr int n = 25;
    const auto before = scrape_now();
    const auto statuses = curl_sequence(proxy_->port(), "good.example", unique_target("/echo/admin-count"), n);
    ASSERT_EQ(statuses, std::vector<int>(n, 200));
    const auto after = scrape_now();

    const labels ok{{"listener", "web"}, {"route", "0"}, {"code", "200"}};
    EXPECT_EQ(after.sum("danegate_requests_total", ok) - before.sum("danegate_requests_total", ok), n);
    const labels web{{"listener", "web"}};
    EXPECT_EQ(after.sum("danegate_request_duration_seconds_count", web) -
                  before.sum("danegate_request_duration_seconds_count", web),
              n);
    EXPECT_EQ(after.type("danegate_requests_total"), "counter");
    EXPECT_EQ(after.type("danegate_request_duration_seconds"), "histogram");

    // One upstream attempt per request: new (full or resumed handshake) or from the pool.
    const labels good{{"upstream", "good"}, {"endpoint", testbed::get().endpoint("web50")}};
    EXPECT_EQ(after.sum("danegate_upstream_connections_total", good) -
                  before.sum("danegate_upstream_connections_total", good),
              n);
    auto delta = [&](const std::string& result) {
        labels l = good;
        l["result"] = result;
        return after.sum("danegate_upstream_connections_total", l) - before.sum("danegate_upstream_connections_total", l);
    };
    EXPECT_GE(delta("pooled"), n - 2) << "one client connection: the upstream connection is reused";
    // DANE decides on new connections only, and every one of them was authenticated.
    const labels verified{{"upstream", "good"}, {"reason", "authenticated"}};
    EXPECT_EQ(after.sum("danegate_dane_verifications_total", verified) -
                  before.sum("danegate_dane_verifications_total", verified),
              delta("handshake") + delta("resumed"));
}

TEST_F(admin_e2e, a_request_without_a_route_is_counted_under_route_none)
{
    const labels none{{"listener", "web"}, {"route", "none"}, {"code", "404"}};
    const auto before = scrape_now();
    ASSERT_EQ(status_of(curl_via(proxy_->port(), "nowhere.example", "/")), 404);
    EXPECT_EQ(scrape_now().sum("danegate_requests_total", none) - before.sum("danegate_requests_total", none), 1);
}

TEST_F(admin_e2e, a_rejected_upstream_is_counted_by_reason_and_shown_on_its_endpoint)
{
    const auto before = scrape_now();
    ASSERT_EQ(status_of(curl_via(proxy_->port(), "wrong.example", "/")), 502);
    const auto after = scrape_now();

    const labels mismatch{{"upstream", "wrong"}, {"reason", "mismatch"}};
    EXPECT_EQ(after.sum("danegate_dane_verifications_total", mismatch) -
                  before.sum("danegate_dane_verifications_total", mismatch),
              1);
    const labels rejected{{"upstream", "wrong"}, {"endpoint", testbed::get().endpoint("webwrong")}, {"result", "rejected"}};
    EXPECT_EQ(after.sum("danegate_upstream_connections_total", rejected) -
                  before.sum("danegate_upstream_connections_total", rejected),
              1);
    const labels answered{{"listener", "web"}, {"route", "1"}, {"code", "502"}};
    EXPECT_EQ(after.sum("danegate_requests_total", answered) - before.sum("danegate_requests_total", answered), 1);

    const auto status = after.find("danegate_endpoint_status", {{"upstream", "wrong"}});
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(status[0].labels.at("reason"), "mismatch");
    EXPECT_EQ(status[0].labels.at("dnssec"), "secure") << "the TLSA answer validated; the key did not match";
    EXPECT_TRUE(after.find("danegate_endpoint_matched_record", {{"upstream", "wrong"}}).empty());
}

TEST_F(admin_e2e, an_authenticated_endpoint_shows_its_record_expiry_and_pool)
{
    ASSERT_EQ(curl_sequence(proxy_->port(), "good.example", "/echo/pool", 3), std::vector<int>(3, 200));
    const auto now = scrape_now();
    const labels good{{"upstream", "good"}, {"endpoint", testbed::get().endpoint("web50")}};

    EXPECT_EQ(now.value("danegate_endpoint_status",
                        {{"upstream", "good"}, {"dnssec", "secure"}, {"reason", "authenticated"}}),
              1.0);
    const auto record = now.find("danegate_endpoint_matched_record", good);
    ASSERT_EQ(record.size(), 1u);
    EXPECT_EQ(record[0].labels.at("usage"), "3");
    EXPECT_EQ(record[0].labels.at("selector"), "1");
    EXPECT_EQ(record[0].labels.at("mtype"), "1");
    EXPECT_EQ(record[0].labels.at("depth"), "0");

    const auto expiry = now.value("danegate_endpoint_tlsa_expiry_seconds", good);
    ASSERT_TRUE(expiry);
    EXPECT_GT(*expiry, 0);
    EXPECT_LE(*expiry, 24 * 3600);

    // The exchange is over: its upstream connection waits in the pool, none is in use.
    labels idle = good;
    idle["state"] = "idle";
    labels active = good;
    active["state"] = "active";
    EXPECT_GE(now.sum("danegate_endpoint_pool_connections", idle), 1);
    EXPECT_EQ(now.sum("danegate_endpoint_pool_connections", active), 0);
    EXPECT_EQ(now.value("danegate_upstream_pool_connections", {{"upstream", "good"}, {"state", "idle"}}),
              now.sum("danegate_endpoint_pool_connections", idle));
}

TEST_F(admin_e2e, a_warm_cache_answers_every_request_without_dns)
{
    ASSERT_EQ(status_of(curl_via(proxy_->port(), "good.example", "/echo/x")), 200);  // warm
    constexpr int n = 20;
    const auto before = scrape_now();
    ASSERT_EQ(curl_sequence(proxy_->port(), "good.example", "/echo/warm", n), std::vector<int>(n, 200));
    const auto after = scrape_now();
    EXPECT_EQ(after.sum("danegate_tlsa_cache_hits_total") - before.sum("danegate_tlsa_cache_hits_total"), n)
        << "one TLSA cache lookup per upstream attempt";
    EXPECT_EQ(after.sum("danegate_tlsa_cache_misses_total") - before.sum("danegate_tlsa_cache_misses_total"), 0);
    EXPECT_EQ(after.sum("danegate_dns_lookup_duration_seconds_count") -
                  before.sum("danegate_dns_lookup_duration_seconds_count"),
              0)
        << "no DNS lookup on the request path";
    EXPECT_GE(after.sum("danegate_dns_lookup_duration_seconds_count"), 1) << "the first lookup was timed";
    EXPECT_EQ(after.type("danegate_tlsa_cache_hits_total"), "counter");
}

TEST_F(admin_e2e, open_client_connections_are_a_gauge_per_listener)
{
    const labels web{{"listener", "web"}};
    const auto idle_before = scrape_now().value("danegate_active_connections", web);
    ASSERT_TRUE(idle_before);
    // An unfinished request header holds a connection open until the client gives up (quiet).
    std::thread holder([&] {
        send_raw_https("127.0.0.1", proxy_->port(), "good.example", "GET / HTTP/1.1\r\nHost: good.example\r\n", 2500ms);
    });
    double during = 0;
    for (int i = 0; i < 40 && during <= *idle_before; ++i) {
        std::this_thread::sleep_for(50ms);
        during = scrape_now().value("danegate_active_connections", web).value_or(0);
    }
    EXPECT_EQ(during, *idle_before + 1);
    holder.join();
    double after = during;
    for (int i = 0; i < 100 && after != *idle_before; ++i) {
        std::this_thread::sleep_for(50ms);
        after = scrape_now().value("danegate_active_connections", web).value_or(-1);
    }
    EXPECT_EQ(after, *idle_before) << "the connection left the gauge when it closed";
}

TEST_F(admin_e2e, reloads_are_counted_accepted_and_rejected)
{
    const auto config = testbed::get().dir() / "admin.yaml";
    const std::string original = [&] {
        std::ifstream in(config);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    auto reload_and_wait = [&](const char* outcome) {
        const auto seen = proxy_->log().size();
        ASSERT_EQ(::kill(proxy_->process().pid(), SIGHUP), 0);
        for (int i = 0; i < 200 && proxy_->log().find(outcome, seen) == std::string::npos; ++i) {
            std::this_thread::sleep_for(25ms);
        }
        ASSERT_NE(proxy_->log().find(outcome, seen), std::string::npos) << proxy_->log();
    };
    const auto before = scrape_now();
    reload_and_wait("configuration reloaded");
    std::ofstream(config, std::ios::app) << "no_such_key: 1\n";
    reload_and_wait("reload rejected");
    std::ofstream(config) << original;
    const auto after = scrape_now();
    for (const char* result : {"accepted", "rejected"}) {
        EXPECT_EQ(after.sum("danegate_config_reloads_total", {{"result", result}}) -
                      before.sum("danegate_config_reloads_total", {{"result", result}}),
                  1)
            << result;
    }
    EXPECT_EQ(status_of(curl_via(proxy_->port(), "good.example", "/echo/x")), 200) << "still serving";
}

TEST_F(admin_e2e, readyz_names_the_upstream_with_no_authenticated_endpoint)
{
    const auto health = admin_get(admin_port_, "/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, "ok\n");
    const auto ready = admin_get(admin_port_, "/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_THAT(ready.body, HasSubstr("upstream wrong: no endpoint authenticated (" + testbed::get().endpoint("webwrong") + " mismatch)"));
    EXPECT_THAT(ready.body, ::testing::Not(HasSubstr("upstream good")));
}

TEST_F(admin_e2e, only_get_and_head_of_the_three_paths_are_served)
{
    const auto metrics = admin_get(admin_port_, "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
    const auto head = admin_get(admin_port_, "/metrics", {"-I"});
    EXPECT_EQ(head.status, 200);
    EXPECT_THAT(head.body, HasSubstr("Content-Length: ")) << "HEAD: the header only";
    EXPECT_THAT(head.body, ::testing::Not(HasSubstr("danegate_requests_total")));
    EXPECT_EQ(admin_get(admin_port_, "/metrics?name=x").status, 200) << "a query string is ignored";
    const auto post = admin_get(admin_port_, "/metrics", {"-X", "POST", "-D", "-"});
    EXPECT_EQ(post.status, 405);
    EXPECT_THAT(post.body, HasSubstr("Allow: GET, HEAD"));
    EXPECT_EQ(admin_get(admin_port_, "/").status, 404);
    EXPECT_EQ(admin_get(admin_port_, "/metrics", {"-d", "body"}).status, 400) << "no request content";
    EXPECT_EQ(admin_get(admin_port_, "/metrics", {"-H", "X-Big: " + std::string(10000, 'a')}).status, 400)
        << "an 8 KiB header limit";
}

/** A plain TCP connection to 127.0.0.1:@p port; -1 when refused. */
int connect_to(std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

/** Whether the peer closed @p fd within @p wait (a read returns 0 or an error). */
bool closed_by_peer(int fd, std::chrono::milliseconds wait)
{
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) {
        return false;
    }
    char byte = 0;
    return ::recv(fd, &byte, 1, 0) <= 0;
}

TEST_F(admin_e2e, admin_connections_are_bounded)
{
    std::vector<int> held;
    for (int i = 0; i < 16; ++i) {
        held.push_back(connect_to(admin_port_));
        ASSERT_GE(held.back(), 0);
    }
    std::this_thread::sleep_for(300ms);  // let the server accept them all
    const int extra = connect_to(admin_port_);
    ASSERT_GE(extra, 0);
    EXPECT_TRUE(closed_by_peer(extra, 3s)) << "the 17th connection is closed at once";
    EXPECT_FALSE(closed_by_peer(held.front(), 200ms)) << "the first 16 are kept";
    ::close(extra);
    for (int fd : held) {
        ::close(fd);
    }
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(admin_get(admin_port_, "/healthz").status, 200) << "slots are released when connections close";
}

TEST(admin_readiness_e2e, ready_when_every_upstream_authenticated_and_not_while_draining)
{
    const auto admin_port = free_tcp_port();
    e2e_proxy proxy("admin-ready", "      - { match: { host: good.example }, upstream: good }\n",
                    "  - { name: good, endpoints: [ \"" + testbed::get().endpoint("web50") + "\" ] }\n",
                    "admin: { address: 127.0.0.1:" + std::to_string(admin_port) + " }\ndrain_timeout: 20s\n");
    ASSERT_TRUE(wait_for_log(proxy.process(), "admin listening on", 10s)) << proxy.log();
    const auto ready = admin_get(admin_port, "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.body;
    EXPECT_EQ(ready.body, "ready\n");

    // Drain with a request in flight: the admin listener stays up and says not ready.
    std::string in_flight;
    std::thread slow([&] { in_flight = curl_via(proxy.port(), "good.example", "/slow/2000"); });
    std::this_thread::sleep_for(500ms);
    ASSERT_EQ(::kill(proxy.process().pid(), SIGTERM), 0);
    ASSERT_TRUE(wait_for_log(proxy.process(), "no longer accepting", 5s)) << proxy.log();
    const auto draining = admin_get(admin_port, "/readyz");
    EXPECT_EQ(draining.status, 503);
    EXPECT_THAT(draining.body, HasSubstr("draining"));
    slow.join();
    EXPECT_EQ(status_of(in_flight), 200) << "the request in flight finished";
    // The drain ends by itself once the request is done: wait for that exit rather than send a
    // second SIGTERM, which could land after the signal handler is gone and kill the process.
    for (int i = 0; i < 400 && proxy.process().running(); ++i) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_FALSE(proxy.process().running()) << "the drain ended and danegate exited";
    proxy.stop();
}

}  // namespace
}  // namespace danegate::test
