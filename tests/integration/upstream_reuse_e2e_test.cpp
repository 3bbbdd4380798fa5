// Upstream connection reuse end to end (DESIGN §1, §4): the keep-alive pool, TLS session
// resumption while the TLSA RRset stays the same and never across a change, and a key rollover
// done the safe way under continuous traffic. The RRset changes are real: roll.test. is a signed
// zone of this suite's own (tests/data/roll_zone.sh), served by its own NSD and re-signed while
// danegate runs; every record has a TTL of 2 s.
#include "tests/integration/curl_client.hpp"
#include "tests/integration/danegate_runner.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#ifndef DANEGATE_HTTP_TEST_BACKEND
#error "DANEGATE_HTTP_TEST_BACKEND (path of the danegate_http_test_backend binary) must be defined"
#endif
#ifndef DANEGATE_ROLL_ZONE_SCRIPT
#error "DANEGATE_ROLL_ZONE_SCRIPT (path of tests/data/roll_zone.sh) must be defined"
#endif

namespace danegate::test {
namespace {

using namespace std::chrono_literals;

const testbed& bed()
{
    return testbed::get();
}

/** How long a change of roll.test. takes to reach danegate: TTL 2 s, plus NSD's reload. */
constexpr auto rrset_change_settles = 4s;

/** A number field of the backend's JSON ("tls_handshakes": 3), or -1. */
long json_number(const std::string& json, const std::string& name)
{
    std::smatch match;
    if (std::regex_search(json, match, std::regex("\"" + name + "\": (\\d+)"))) {
        return std::stol(match[1]);
    }
    return -1;
}

bool json_flag(const std::string& json, const std::string& name)
{
    return json.find("\"" + name + "\": true") != std::string::npos;
}

class upstream_reuse_e2e : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        dir_ = bed().dir() / "roll";
        dns_port_ = free_tcp_port();
        app_port_ = free_tcp_port();
        roll_port_ = free_tcp_port();
        ASSERT_EQ(run_command({DANEGATE_ROLL_ZONE_SCRIPT, "init", dir_.string(), std::to_string(dns_port_)}, nullptr), 0);
        zone_["app"] = "127.0.0.54:" + std::to_string(app_port_) + ":" + ee();
        zone_["roll"] = "127.0.0.55:" + std::to_string(roll_port_) + ":" + ee();
        publish();
        nsd_ = std::make_unique<child_process>(std::vector<std::string>{"nsd", "-d", "-c", (dir_ / "nsd.conf").string()},
                                               dir_ / "nsd.log");
        ASSERT_TRUE(wait_for_tcp("127.0.0.1", dns_port_, 10s)) << nsd_->log();
        app_backend_ = start_backend("app", "127.0.0.54", app_port_);
        roll_backend_ = start_backend("roll", "127.0.0.55", roll_port_);

        port_ = free_tcp_port();
        std::string roll_anchor;
        std::getline(std::ifstream(dir_ / "trust-anchor.ds"), roll_anchor);
        const auto web50 = bed().endpoint("web50");
        const auto app = "app.roll.test:" + std::to_string(app_port_);
        const auto roll = "roll.roll.test:" + std::to_string(roll_port_);
        const auto config = dir_ / "danegate.yaml";
        std::ofstream(config) << "threads: 2\n"
                                 "resolver:\n"
                                 "  trust_anchor_file: " << bed().trust_anchor_file().string() << "\n"
                                 "  trust_anchors: [ \"" << roll_anchor << "\" ]\n"
                                 "  forwarders: [ \"" << bed().forwarder() << "\" ]\n"
                                 "  stub_zones: [ { name: roll.test., addrs: [ \"127.0.0.1@" << dns_port_ << "\" ] } ]\n"
                                 "  timeout: 3s\n"
                                 "listeners:\n"
                                 "  - name: web\n"
                                 "    address: 127.0.0.1:" << port_ << "\n"
                                 "    tls:\n"
                                 "      certificates: [ { cert: " << bed().file("ta-leaf.pem").string()
                              << ", key: " << bed().file("ta-leaf.key").string() << " } ]\n"
                                 "    routes:\n"
                                 "      - { match: { host: keep.example }, upstream: keep }\n"
                                 "      - { match: { host: fresh.example }, upstream: fresh }\n"
                                 "      - { match: { host: app.example }, upstream: app }\n"
                                 "      - { match: { host: roll.example }, upstream: roll }\n"
                                 "upstreams:\n"
                                 "  - { name: keep, endpoints: [ \"" << web50 << "\" ] }\n"
                                 // max_idle 0: every request opens a new upstream connection.
                                 "  - { name: fresh, endpoints: [ \"" << web50 << "\" ], pool: { max_idle: 0 } }\n"
                                 "  - { name: app, endpoints: [ \"" << app << "\" ], pool: { max_idle: 0 } }\n"
                                 "  - { name: roll, endpoints: [ \"" << roll << "\" ] }\n"
                                 "log: { access: stdout }\n";
        proxy_ = start_danegate_run(config, dir_ / "danegate.log", port_);
    }

    static void TearDownTestSuite()
    {
        proxy_.reset();
        roll_backend_.reset();
        app_backend_.reset();
        nsd_.reset();
    }

    static std::string ee() { return bed().digest("EE_SPKI_SHA256"); }
    static std::string ee_new() { return bed().digest("EE_NEW_SPKI_SHA256"); }

    /** A test backend that serves ee.pem and switches to ee-new.pem on SIGUSR1. */
    static std::unique_ptr<child_process> start_backend(const std::string& name, const std::string& address,
                                                        std::uint16_t port)
    {
        auto backend = std::make_unique<child_process>(
            std::vector<std::string>{DANEGATE_HTTP_TEST_BACKEND, "--listen", address + ":" + std::to_string(port),
                                     "--cert", bed().file("ee.pem").string(), "--key", bed().file("ee.key").string(),
                                     "--next-cert", bed().file("ee-new.pem").string(), "--next-key",
                                     bed().file("ee-new.key").string(), "--name", name},
            dir_ / (name + "-backend.log"));
        EXPECT_TRUE(wait_for_tcp(address, port, 10s)) << backend->log();
        return backend;
    }

    /** Writes and signs roll.test. from zone_, and makes NSD reread it. */
    static void publish()
    {
        std::vector<std::string> argv{DANEGATE_ROLL_ZONE_SCRIPT, "publish", dir_.string()};
        for (const auto& [name, spec] : zone_) {
            argv.push_back(name + "=" + spec);
        }
        std::string output;
        ASSERT_EQ(run_command(argv, &output), 0) << output;
        if (nsd_) {
            ASSERT_EQ(::kill(nsd_->pid(), SIGHUP), 0);
        }
    }

    static void set_records(const std::string& name, std::uint16_t port, const std::string& address,
                            const std::vector<std::string>& digests)
    {
        std::string spec = address + ":" + std::to_string(port) + ":";
        for (std::size_t i = 0; i < digests.size(); ++i) {
            spec += (i == 0 ? "" : ",") + digests[i];
        }
        zone_[name] = spec;
        publish();
    }

    static std::string backend_stats(const std::string& address, std::uint16_t port)
    {
        std::string output;
        run_command({"curl", "-sk", "--max-time", "10", "https://" + address + ":" + std::to_string(port) + "/stats"},
                    &output);
        return output;
    }

    static std::string get(const std::string& host, const std::string& path)
    {
        return curl_via(port_, host, path);
    }

    static inline std::filesystem::path dir_;
    static inline std::uint16_t dns_port_ = 0;
    static inline std::uint16_t app_port_ = 0;
    static inline std::uint16_t roll_port_ = 0;
    static inline std::uint16_t port_ = 0;
    static inline std::map<std::string, std::string> zone_;
    static inline std::unique_ptr<child_process> nsd_;
    static inline std::unique_ptr<child_process> app_backend_;
    static inline std::unique_ptr<child_process> roll_backend_;
    static inline std::unique_ptr<child_process> proxy_;
};

TEST_F(upstream_reuse_e2e, a_thousand_keep_alive_requests_need_far_fewer_upstream_handshakes)
{
    const auto backend = bed().backend_address("ee50");
    const auto colon = backend.rfind(':');
    const auto address = backend.substr(0, colon);
    const auto port = static_cast<std::uint16_t>(std::stoi(backend.substr(colon + 1)));
    const auto before = backend_stats(address, port);

    const auto statuses = curl_sequence(port_, "keep.example", "/echo/keep", 1000);

    const auto after = backend_stats(address, port);
    ASSERT_EQ(statuses.size(), 1000u) << proxy_->log();
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 1000) << proxy_->log();
    const long requests = json_number(after, "requests") - json_number(before, "requests");
    const long handshakes = json_number(after, "tls_handshakes") - json_number(before, "tls_handshakes");
    EXPECT_GE(requests, 1000) << before << after;
    EXPECT_GE(handshakes, 1) << before << after;
    EXPECT_LE(handshakes, 5) << "1000 requests on one client connection: " << before << after;
}

TEST_F(upstream_reuse_e2e, without_a_pool_every_request_is_a_new_upstream_handshake)
{
    // The twin of the test above: max_idle 0 keeps no connection, so handshakes follow requests.
    const auto backend = bed().backend_address("ee50");
    const auto colon = backend.rfind(':');
    const auto address = backend.substr(0, colon);
    const auto port = static_cast<std::uint16_t>(std::stoi(backend.substr(colon + 1)));
    const auto before = backend_stats(address, port);
    const auto statuses = curl_sequence(port_, "fresh.example", "/echo/fresh", 20);
    const auto after = backend_stats(address, port);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 20) << proxy_->log();
    // 20 through the proxy, and the connection that asked for the second /stats.
    EXPECT_EQ(json_number(after, "tls_handshakes") - json_number(before, "tls_handshakes"), 21) << before << after;
}

TEST_F(upstream_reuse_e2e, new_upstream_connections_resume_only_while_the_tlsa_rrset_is_unchanged)
{
    // Each request is a new upstream connection (max_idle 0) to app.roll.test.
    const auto first = get("app.example", "/echo/1");
    const auto second = get("app.example", "/echo/2");
    ASSERT_EQ(status_of(first), 200) << first << proxy_->log();
    ASSERT_EQ(status_of(second), 200) << second;
    EXPECT_FALSE(json_flag(first, "tls_resumed")) << first;
    EXPECT_TRUE(json_flag(second, "tls_resumed")) << "same RRset: the session is resumed\n" << second;

    // A second record joins the RRset (the backend's key does not change): no session of the old
    // RRset may be resumed, so the next connection is a full handshake...
    set_records("app", app_port_, "127.0.0.54", {ee(), ee_new()});
    std::this_thread::sleep_for(rrset_change_settles);
    const auto after_change = get("app.example", "/echo/3");
    ASSERT_EQ(status_of(after_change), 200) << after_change << proxy_->log();
    EXPECT_FALSE(json_flag(after_change, "tls_resumed")) << "resumed across a TLSA change\n" << after_change;
    // ...whose session, under the new RRset, is resumed again.
    const auto again = get("app.example", "/echo/4");
    ASSERT_EQ(status_of(again), 200) << again;
    EXPECT_TRUE(json_flag(again, "tls_resumed")) << again;
}

TEST_F(upstream_reuse_e2e, a_key_rollover_under_traffic_loses_no_request)
{
    std::atomic<bool> stop{false};
    std::atomic<int> sent{0};
    std::atomic<int> failed{0};
    std::thread load([&] {
        while (!stop.load()) {
            for (const int status : curl_sequence(port_, "roll.example", "/echo/load", 20)) {
                ++sent;
                failed += status == 200 ? 0 : 1;
            }
        }
    });
    // RFC 7671 §8.1: publish the new record beside the old, wait a TTL, switch the key, wait,
    // remove the old one.
    std::this_thread::sleep_for(1s);
    set_records("roll", roll_port_, "127.0.0.55", {ee(), ee_new()});
    std::this_thread::sleep_for(rrset_change_settles);
    ASSERT_EQ(::kill(roll_backend_->pid(), SIGUSR1), 0);
    std::this_thread::sleep_for(2s);
    set_records("roll", roll_port_, "127.0.0.55", {ee_new()});
    std::this_thread::sleep_for(rrset_change_settles);

    // The old record is gone and its TTL has passed: every request now travels over a connection
    // whose handshake presented the new key, i.e. none authenticated by the removed record.
    std::vector<std::string> late;
    for (int i = 0; i < 20; ++i) {
        late.push_back(get("roll.example", "/echo/late"));
    }
    stop = true;
    load.join();

    EXPECT_EQ(failed.load(), 0) << "of " << sent.load() << " requests during the rollover\n" << proxy_->log();
    EXPECT_GE(sent.load(), 100) << "too little traffic to call it continuous";
    for (const auto& reply : late) {
        ASSERT_EQ(status_of(reply), 200) << reply;
        EXPECT_THAT(reply, ::testing::HasSubstr("\"key\": \"next\"")) << reply;
    }
}

}  // namespace
}  // namespace danegate::test
