// TCP listeners end to end (DESIGN §4 "TCP listeners route by SNI and relay bytes to a
// DANE-authenticated upstream"), with real peers only: the signed test zone served by NSD, the TLS
// echo server on 127.0.0.52 (host `echo`), the HTTP backend on .50 as the upstream whose TLSA does
// not match, and a danegate with a `protocol: tcp` listener between a client and them. Every
// rejection also checks that nothing reached the upstream.
#include "tests/integration/danegate_runner.hpp"
#include "tests/integration/raw_tls_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const testbed& bed()
{
    return testbed::get();
}


std::string random_bytes(std::size_t size, unsigned seed)
{
    std::mt19937 random(seed);
    std::string bytes(size, '\0');
    for (auto& c : bytes) {
        c = static_cast<char>(random() & 0xff);
    }
    return bytes;
}

/**
 * One danegate with a TCP listener for the whole suite; limits.idle_timeout is 1 s (the minimum),
 * and so is limits.header_timeout, which bounds the client's TLS handshake.
 */
class tcp_proxy_e2e : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        port_ = free_tcp_port();
        access_log_ = bed().dir() / "tcp-proxy-access.log";
        const auto config = bed().dir() / "tcp-proxy-e2e.yaml";
        std::ofstream(config) << "threads: 2\n"
                                 "resolver:\n"
                                 "  trust_anchor_file: " << bed().trust_anchor_file().string() << "\n"
                                 "  forwarders: [ \"" << bed().forwarder() << "\" ]\n"
                                 "  timeout: 3s\n"
                                 "listeners:\n"
                                 "  - name: stream\n"
                                 "    address: 127.0.0.1:" << port_ << "\n"
                                 "    protocol: tcp\n"
                                 "    tls:\n"
                                 "      certificates: [ { cert: " << bed().file("ta-leaf.pem").string()
                              << ", key: " << bed().file("ta-leaf.key").string() << " } ]\n"
                                 "    routes:\n"
                                 "      - { match: { sni: echo.example }, upstream: echo }\n"
                                 "      - { match: { sni: wrong.example }, upstream: wrong }\n"
                                 "      - { match: { sni: nxd.example }, upstream: nxd }\n"
                                 "      - { match: { sni: dead.example }, upstream: dead }\n"
                                 "upstreams:\n"
                                 "  - { name: echo, endpoints: [ \"" << bed().endpoint("echo") << "\" ] }\n"
                                 // Both resolve to .50, the HTTP backend, which records any request.
                                 "  - { name: wrong, endpoints: [ \"" << bed().endpoint("webwrong") << "\" ] }\n"
                                 "  - { name: nxd, endpoints: [ \"" << bed().endpoint("webnxd") << "\" ] }\n"
                                 // notls resolves to 127.0.0.40, where nothing listens in this suite.
                                 "  - { name: dead, endpoints: [ \"" << bed().endpoint("notls") << "\" ],\n"
                                 "      health: { max_failures: 1, retry_after: 1m } }\n"
                                 "limits: { idle_timeout: 1s, header_timeout: 1s }\n"
                                 "log: { access: " << access_log_.string() << " }\n";
        const auto echo_before = bed().echo_connections().size();
        proxy_ = start_danegate_run(config, bed().dir() / "tcp-proxy-e2e.log", port_);
        // The start-up live check connects to the echo server too; it records the connection
        // when its side of the handshake ends, which may be after danegate logged the check
        // (under ASan, noticeably). Tests count the echo server's connections from here on.
        for (int i = 0; i < 200 && bed().echo_connections().size() == echo_before; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        ASSERT_EQ(bed().echo_connections().size(), echo_before + 1) << "the live check's connection to the echo server";
    }

    static void TearDownTestSuite() { proxy_.reset(); }

    static tls_stream_exchange exchange(const std::string& sni, const std::string& data, tls_stream_options options = {})
    {
        return exchange_tls_stream("127.0.0.1", port_, sni, data, options);
    }

    /**
     * The access-log lines of the connection from local port @p client_port, waiting up to 3 s
     * for the first: a relay's line is written when it ends, just after the client saw the end.
     */
    static std::vector<std::string> access_lines(std::uint16_t client_port)
    {
        const auto marker = "\"client\":\"127.0.0.1:" + std::to_string(client_port) + "\"";
        std::vector<std::string> found;
        for (int attempt = 0; attempt < 60 && found.empty(); ++attempt) {
            if (attempt > 0) {
                std::this_thread::sleep_for(50ms);
            }
            std::ifstream in(access_log_);
            for (std::string line; std::getline(in, line);) {
                if (line.find(marker) != std::string::npos) {
                    found.push_back(line);
                }
            }
        }
        return found;
    }

    static std::string describe(const tls_stream_exchange& e)
    {
        std::ostringstream text;
        text << "connected=" << e.connected << " handshake=" << e.handshake << " sent=" << e.sent
             << " received=" << e.received.size() << " sent_end=" << e.sent_end
             << " peer_close_notify=" << e.peer_close_notify << " peer_fin=" << e.peer_fin << " quiet=" << e.quiet
             << " elapsed=" << e.elapsed.count() << "ms error=" << e.error << "\n--- danegate log:\n" << proxy_->log();
        return text.str();
    }

    static inline std::uint16_t port_ = 0;
    static inline std::filesystem::path access_log_;
    static inline std::unique_ptr<child_process> proxy_;
};

TEST_F(tcp_proxy_e2e, a_mebibyte_each_way_goes_through_byte_exact)
{
    const auto before = bed().echo_connections().size();
    const auto data = random_bytes(1024 * 1024, 1);
    const auto result = exchange("echo.example", data);
    ASSERT_TRUE(result.handshake) << describe(result);
    EXPECT_EQ(result.sent, data.size()) << describe(result);
    ASSERT_EQ(result.received.size(), data.size()) << describe(result);
    EXPECT_TRUE(result.received == data) << "the echoed bytes differ from the bytes sent";
    EXPECT_TRUE(result.peer_close_notify) << describe(result);
    EXPECT_EQ(bed().echo_connections().size(), before + 1);
}

TEST_F(tcp_proxy_e2e, a_half_closed_client_still_receives_every_echoed_byte)
{
    // The client sends everything and its close_notify before reading a byte, so most of the echo
    // flows after its direction has ended; the end must reach the echo server as a close_notify
    // (not a bare FIN), and its own end must come back the same way.
    const auto data = random_bytes(256 * 1024, 2);
    const auto result = exchange("echo.example", data);
    ASSERT_TRUE(result.sent_end) << describe(result);
    ASSERT_EQ(result.received.size(), data.size()) << describe(result);
    EXPECT_TRUE(result.received == data);
    EXPECT_TRUE(result.peer_close_notify) << describe(result);
    // The echo server writes its line once its own close_notify is out, so possibly just after
    // the client has read it.
    std::string record;
    for (int attempt = 0; attempt < 40 && record.find(" closed 262144 close_notify") == std::string::npos; ++attempt) {
        std::this_thread::sleep_for(50ms);
        std::ifstream in(bed().echo_record());
        std::stringstream text;
        text << in.rdbuf();
        record = text.str();
    }
    EXPECT_THAT(record, HasSubstr(" closed 262144 close_notify"));
}

TEST_F(tcp_proxy_e2e, without_a_half_close_the_upstream_keeps_its_direction_open)
{
    // The twin: the same bytes without the client's end. The echo server never ends its
    // direction, so no close_notify comes back; the relay ends only at the idle timeout.
    const auto data = random_bytes(64 * 1024, 3);
    tls_stream_options options;
    options.end_after_send = false;
    const auto result = exchange("echo.example", data, options);
    ASSERT_EQ(result.received.size(), data.size()) << describe(result);
    EXPECT_TRUE(result.received == data);
    EXPECT_FALSE(result.peer_close_notify) << describe(result);
    EXPECT_TRUE(result.peer_fin) << describe(result);
}

TEST_F(tcp_proxy_e2e, a_tlsa_mismatch_closes_the_client_with_nothing_relayed)
{
    const auto before = bed().backend_requests("ee50");
    tls_stream_options options;
    options.end_after_send = false;  // the close must be the proxy's doing
    const auto result = exchange("wrong.example", "GET /echo/tcp-must-not-arrive HTTP/1.1\r\nHost: x\r\n\r\n", options);
    ASSERT_TRUE(result.handshake) << describe(result);
    EXPECT_EQ(result.received, "") << describe(result);
    EXPECT_TRUE(result.peer_ended()) << describe(result);
    EXPECT_FALSE(result.quiet) << describe(result);
    EXPECT_EQ(bed().backend_requests("ee50"), before) << "bytes reached an unauthenticated upstream";
    const auto lines = access_lines(result.local_port);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_THAT(lines[0], HasSubstr("\"status\":502"));
    EXPECT_THAT(lines[0], HasSubstr("\"dane\":\"mismatch\""));
    EXPECT_THAT(lines[0], HasSubstr("\"bytes_in\":0,\"bytes_out\":0"));
}

TEST_F(tcp_proxy_e2e, no_tlsa_record_closes_the_client_with_nothing_relayed)
{
    const auto before = bed().backend_requests("ee50");
    tls_stream_options options;
    options.end_after_send = false;
    const auto result = exchange("nxd.example", "GET /echo/tcp-must-not-arrive-either HTTP/1.1\r\nHost: x\r\n\r\n", options);
    ASSERT_TRUE(result.handshake) << describe(result);
    EXPECT_EQ(result.received, "") << describe(result);
    EXPECT_TRUE(result.peer_ended()) << describe(result);
    EXPECT_EQ(bed().backend_requests("ee50"), before);
    const auto lines = access_lines(result.local_port);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_THAT(lines[0], HasSubstr("\"status\":502"));
    EXPECT_THAT(lines[0], HasSubstr("\"dane\":\"no-tlsa\""));
}

TEST_F(tcp_proxy_e2e, an_unknown_sni_is_closed_with_nothing_relayed)
{
    const auto before = bed().echo_connections().size();
    tls_stream_options options;
    options.end_after_send = false;
    const auto result = exchange("other.example", "hello?", options);
    ASSERT_TRUE(result.handshake) << describe(result);
    EXPECT_EQ(result.received, "") << describe(result);
    EXPECT_TRUE(result.peer_ended()) << describe(result);
    EXPECT_EQ(bed().echo_connections().size(), before);
    const auto lines = access_lines(result.local_port);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_THAT(lines[0], HasSubstr("\"status\":404"));
    EXPECT_THAT(lines[0], HasSubstr("\"sni\":\"other.example\""));
}

TEST_F(tcp_proxy_e2e, no_sni_is_closed_with_nothing_relayed)
{
    // Every route matches on SNI; a client that sends none matches no route.
    const auto before = bed().echo_connections().size();
    tls_stream_options options;
    options.end_after_send = false;
    const auto result = exchange("", "hello?", options);
    ASSERT_TRUE(result.handshake) << describe(result);
    EXPECT_EQ(result.received, "") << describe(result);
    EXPECT_TRUE(result.peer_ended()) << describe(result);
    EXPECT_EQ(bed().echo_connections().size(), before);
}

TEST_F(tcp_proxy_e2e, a_silent_relay_is_closed_at_the_idle_timeout)
{
    tls_stream_options options;
    options.end_after_send = false;
    options.quiet = 5s;
    const auto result = exchange("echo.example", "ping", options);
    EXPECT_EQ(result.received, "ping") << describe(result);
    EXPECT_TRUE(result.peer_ended()) << describe(result);
    EXPECT_FALSE(result.quiet) << "still open after 5 s of silence: " << describe(result);
    EXPECT_GE(result.elapsed, 900ms) << describe(result);
    EXPECT_LT(result.elapsed, 4s) << describe(result);
    const auto lines = access_lines(result.local_port);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_THAT(lines[0], HasSubstr("idle for 1000 ms"));
}

TEST_F(tcp_proxy_e2e, a_relay_that_keeps_moving_outlives_the_idle_timeout)
{
    // One byte every 400 ms for 3.2 s: never 1 s of silence, so the relay lasts until the end.
    tls_stream_options options;
    options.chunk = 1;
    options.pause = 400ms;
    const auto result = exchange("echo.example", "12345678", options);
    EXPECT_EQ(result.received, "12345678") << describe(result);
    EXPECT_TRUE(result.peer_close_notify) << describe(result);
    EXPECT_GE(result.elapsed, 2800ms) << describe(result);
}

TEST_F(tcp_proxy_e2e, a_client_that_never_starts_its_handshake_is_closed_at_the_header_timeout)
{
    // The twin is a_relay_that_keeps_moving_outlives_the_idle_timeout: a client whose handshake
    // completed stays well past 1 s.
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(port_);
    ASSERT_EQ(inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr), 1);
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&peer), sizeof peer), 0);
    timeval limit{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    const auto started = std::chrono::steady_clock::now();
    char byte = 0;
    const auto n = ::recv(fd.get(), &byte, 1, 0);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(n, 0) << "expected the proxy to close the connection (errno " << errno << ")";
    EXPECT_GE(elapsed, 900ms);
    EXPECT_LT(elapsed, 4s);
}

TEST_F(tcp_proxy_e2e, a_relayed_connection_writes_one_access_log_line)
{
    const auto data = random_bytes(1000, 4);
    const auto result = exchange("echo.example", data);
    ASSERT_EQ(result.received.size(), data.size()) << describe(result);
    const auto lines = access_lines(result.local_port);
    ASSERT_EQ(lines.size(), 1u) << "one line per connection";
    const auto& line = lines[0];
    EXPECT_THAT(line, HasSubstr("\"sni\":\"echo.example\""));
    EXPECT_THAT(line, HasSubstr("\"status\":200"));
    EXPECT_THAT(line, HasSubstr("\"bytes_in\":1000,\"bytes_out\":1000"));
    EXPECT_THAT(line, HasSubstr("\"upstream\":\"" + bed().endpoint("echo") + " (127.0.0.52)\""));
    EXPECT_THAT(line, HasSubstr("\"dane\":\"authenticated\""));
    EXPECT_THAT(line, HasSubstr("\"matched\":\"3 1 1 " + bed().digest("EE_SPKI_SHA256")));
    EXPECT_THAT(line, Not(HasSubstr("\"detail\""))) << "a clean relay has no detail";
}

TEST_F(tcp_proxy_e2e, a_refused_upstream_is_502_and_once_ejected_503)
{
    tls_stream_options options;
    options.end_after_send = false;
    const auto refused = exchange("dead.example", "x", options);
    EXPECT_EQ(refused.received, "") << describe(refused);
    EXPECT_TRUE(refused.peer_ended()) << describe(refused);
    const auto refused_lines = access_lines(refused.local_port);
    ASSERT_EQ(refused_lines.size(), 1u);
    EXPECT_THAT(refused_lines[0], HasSubstr("\"status\":502"));

    const auto ejected = exchange("dead.example", "x", options);
    EXPECT_EQ(ejected.received, "") << describe(ejected);
    EXPECT_TRUE(ejected.peer_ended()) << describe(ejected);
    const auto ejected_lines = access_lines(ejected.local_port);
    ASSERT_EQ(ejected_lines.size(), 1u);
    EXPECT_THAT(ejected_lines[0], HasSubstr("\"status\":503"));
}

/** What `openssl s_client` says about ALPN when it offers http/1.1 to 127.0.0.1:@p port. */
std::string alpn_answer(std::uint16_t port, const std::string& sni)
{
    return shell_output("openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -servername " + sni +
                        " -alpn http/1.1 </dev/null 2>/dev/null | grep -E 'ALPN' || true");
}

TEST_F(tcp_proxy_e2e, a_tcp_listener_selects_no_alpn_protocol)
{
    // It relays a protocol it does not know: claiming http/1.1 would be a lie to the client.
    EXPECT_THAT(alpn_answer(port_, "echo.example"), HasSubstr("No ALPN negotiated"));
}

}  // namespace
}  // namespace danegate::test
