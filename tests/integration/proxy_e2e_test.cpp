// `danegate run` end to end with real peers only: the signed test zone served by NSD, the Beast
// HTTPS test backend on 127.0.0.50/51, and danegate between a client and them. Each behaviour
// has its twin; every rejection also checks that the backend saw no request (DESIGN §4: the client
// never reaches an unauthenticated upstream).
#include "tests/integration/curl_client.hpp"
#include "tests/integration/danegate_runner.hpp"
#include "tests/integration/raw_tls_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>
#include <sstream>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const testbed& bed()
{
    return testbed::get();
}

std::string read_file(const std::filesystem::path& path)
{
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}


/** One danegate for the whole suite, in front of the test bed's HTTPS backends. */
class proxy_e2e : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        port_ = free_tcp_port();
        const auto config = bed().dir() / "proxy-e2e.yaml";
        std::ofstream(config) << "threads: 2\n"
                                 "resolver:\n"
                                 "  trust_anchor_file: " << bed().trust_anchor_file().string() << "\n"
                                 "  forwarders: [ \"" << bed().forwarder() << "\" ]\n"
                                 // Nothing answers there: every lookup under dead.test. fails.
                                 "  stub_zones: [ { name: dead.test., addrs: [ \"127.0.0.1@" << free_tcp_port() << "\" ] } ]\n"
                                 "  timeout: 3s\n"
                                 "listeners:\n"
                                 "  - name: web\n"
                                 "    address: 127.0.0.1:" << port_ << "\n"
                                 "    tls:\n"
                                 "      certificates: [ { cert: " << bed().file("ta-leaf.pem").string()
                              << ", key: " << bed().file("ta-leaf.key").string() << " } ]\n"
                                 "    routes:\n"
                                 "      - { match: { host: good.example }, upstream: good }\n"
                                 "      - { match: { host: wrong.example }, upstream: wrong }\n"
                                 "      - { match: { host: nxd.example }, upstream: nxd }\n"
                                 "      - { match: { host: slow.example }, upstream: slow }\n"
                                 "      - { match: { host: pair.example }, upstream: pair }\n"
                                 "      - { match: { host: dead.example }, upstream: dead }\n"
                                 "      - { match: { host: unusable.example }, upstream: unusable }\n"
                                 "      - { match: { host: insecure.example }, upstream: insecure }\n"
                                 "      - { match: { host: expired.example }, upstream: expired }\n"
                                 "      - { match: { host: badds.example }, upstream: badds }\n"
                                 "      - { match: { host: dnserror.example }, upstream: dnserror }\n"
                                 "      - { match: { host: refused.example }, upstream: refused }\n"
                                 "upstreams:\n"
                                 "  - { name: good, endpoints: [ \"" << bed().endpoint("web50") << "\" ] }\n"
                                 "  - { name: wrong, endpoints: [ \"" << bed().endpoint("webwrong") << "\" ] }\n"
                                 "  - { name: nxd, endpoints: [ \"" << bed().endpoint("webnxd") << "\" ] }\n"
                                 "  - { name: slow, endpoints: [ \"" << bed().endpoint("web50") << "\" ], timeouts: { response: 1s } }\n"
                                 "  - { name: pair, endpoints: [ \"" << bed().endpoint("web50") << "\", \"" << bed().endpoint("web51") << "\" ] }\n"
                                 // notls resolves to 127.0.0.40, where nothing listens in this suite.
                                 "  - { name: dead, endpoints: [ \"" << bed().endpoint("notls") << "\" ],\n"
                                 "      health: { max_failures: 1, retry_after: 1m } }\n"
                                 "  - { name: unusable, endpoints: [ \"" << bed().endpoint("webunusable") << "\" ] }\n"
                                 "  - { name: insecure, endpoints: [ \"" << bed().endpoint("web.unsigned") << "\" ] }\n"
                                 "  - { name: expired, endpoints: [ \"" << bed().endpoint("web.expired") << "\" ] }\n"
                                 "  - { name: badds, endpoints: [ \"" << bed().endpoint("web.badds") << "\" ] }\n"
                                 "  - { name: dnserror, endpoints: [ \"web.dead.test:" << bed().port() << "\" ] }\n"
                                 "  - { name: refused, endpoints: [ \"" << bed().endpoint("notls") << "\" ] }\n"
                                 "log: { access: stdout }\n";
        proxy_ = start_danegate_run(config, bed().dir() / "proxy-e2e.log", port_);
    }

    static void TearDownTestSuite() { proxy_.reset(); }

    /** curl through the proxy: "BODY\nSTATUS". */
    static std::string curl(const std::string& host, const std::string& path, std::vector<std::string> extra = {})
    {
        return curl_via(port_, host, path, extra);
    }

    static std::string backend_requests()
    {
        return read_file(bed().backend_record("ee50"));
    }

    static inline std::uint16_t port_ = 0;
    static inline std::unique_ptr<child_process> proxy_;
};

TEST_F(proxy_e2e, an_authenticated_upstream_answers_through_the_proxy)
{
    const auto output = curl("good.example", "/echo/hello");
    EXPECT_EQ(status_of(output), 200) << output << proxy_->log();
    EXPECT_THAT(output, HasSubstr("\"backend\": \"ee50\"")) << output;
    EXPECT_THAT(output, HasSubstr("/echo/hello")) << output;
    EXPECT_THAT(backend_requests(), HasSubstr("/echo/hello"));
}

TEST_F(proxy_e2e, forwarding_headers_are_set_and_hop_by_hop_headers_removed)
{
    const auto output = curl("good.example", "/echo/headers",
                             {"-H", "Connection: keep-alive, X-Secret", "-H", "X-Secret: 1", "-H", "Keep-Alive: 5",
                              "-H", "X-Forwarded-For: 192.0.2.7"});
    ASSERT_EQ(status_of(output), 200) << output;
    EXPECT_THAT(output, Not(HasSubstr("X-Secret"))) << output;
    EXPECT_THAT(output, Not(HasSubstr("Keep-Alive"))) << output;
    EXPECT_THAT(output, HasSubstr("192.0.2.7, 127.0.0.1")) << "X-Forwarded-For is appended to: " << output;
    EXPECT_THAT(output, HasSubstr("X-Forwarded-Proto")) << output;
    EXPECT_THAT(output, HasSubstr("X-Forwarded-Host")) << output;
    EXPECT_THAT(output, HasSubstr("danegate")) << "Via: " << output;
}

TEST_F(proxy_e2e, a_tlsa_mismatch_is_502_and_the_backend_sees_nothing)
{
    const auto before = backend_requests();
    const auto output = curl("wrong.example", "/echo/must-not-arrive");
    EXPECT_EQ(status_of(output), 502) << output;
    EXPECT_EQ(backend_requests(), before) << "a request reached an unauthenticated upstream";
    EXPECT_THAT(proxy_->log(), HasSubstr("mismatch"));
}

TEST_F(proxy_e2e, no_tlsa_record_is_502_and_the_backend_sees_nothing)
{
    const auto before = backend_requests();
    const auto output = curl("nxd.example", "/echo/must-not-arrive-either");
    EXPECT_EQ(status_of(output), 502) << output;
    EXPECT_EQ(backend_requests(), before);
    EXPECT_THAT(proxy_->log(), HasSubstr("no-tlsa"));
}

struct rejection_case {
    const char* route;   ///< host routed to an upstream whose endpoint gets this reason
    const char* reason;  ///< DESIGN §1 reason word
};

class proxy_rejections : public proxy_e2e, public ::testing::WithParamInterface<rejection_case> {};

TEST_P(proxy_rejections, are_502_with_the_reason_word_and_the_backend_sees_nothing)
{
    const auto& c = GetParam();
    const std::string path = std::string("/echo/rejected-") + c.reason;
    const auto before = backend_requests();
    const auto reply = curl(std::string(c.route) + ".example", path);
    EXPECT_EQ(status_of(reply), 502) << reply;
    // Every endpoint but dnserror's (no address) and refused's (.40) is the ee50 backend on .50.
    EXPECT_EQ(backend_requests(), before) << "a request reached an unauthenticated upstream";
    std::istringstream log(proxy_->log());
    bool logged = false;
    for (std::string line; std::getline(log, line);) {
        logged = logged || (line.find(path) != std::string::npos &&
                            line.find(std::string("\"dane\":\"") + c.reason + "\"") != std::string::npos);
    }
    EXPECT_TRUE(logged) << "no access-log line with " << path << " and dane " << c.reason << ":\n" << proxy_->log();
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(every_reason_of_design_1, proxy_rejections, ::testing::Values(
    rejection_case{"wrong", "mismatch"},
    rejection_case{"nxd", "no-tlsa"},
    rejection_case{"unusable", "unusable"},
    rejection_case{"insecure", "insecure"},
    rejection_case{"expired", "bogus"},
    rejection_case{"badds", "bogus"},
    rejection_case{"dnserror", "dns-error"},
    rejection_case{"refused", "tls-error"}
), [](const auto& info) { return std::string(info.param.route); });
// clang-format on

TEST_F(proxy_e2e, a_body_goes_through_byte_exact)
{
    const auto body = bed().dir() / "upload.bin";
    {
        std::ofstream out(body, std::ios::binary);
        for (int i = 0; i < 10 * 1024 * 1024; ++i) {
            out.put(static_cast<char>(i % 251));
        }
    }
    std::string expected;
    run_command({"sh", "-c", "sha256sum " + body.string() + " | cut -d' ' -f1"}, &expected);
    expected.erase(expected.find_last_not_of("\n") + 1);
    const auto output = curl("good.example", "/echo/upload", {"--data-binary", "@" + body.string()});
    ASSERT_EQ(status_of(output), 200) << output.substr(0, 400);
    EXPECT_THAT(output, HasSubstr("\"body_bytes\": 10485760")) << output.substr(0, 400);
    EXPECT_THAT(output, HasSubstr(expected)) << output.substr(0, 400);

    const auto download = curl("good.example", "/bytes/1048576", {"-o", (bed().dir() / "download.bin").string()});
    EXPECT_EQ(status_of(download), 200) << download;
    EXPECT_EQ(std::filesystem::file_size(bed().dir() / "download.bin"), 1048576u);
}

/** A "VmHWM:"-style field of /proc/PID/status, in KiB. */
long proc_status_kib(pid_t pid, const std::string& field)
{
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind(field + ":", 0) == 0) {
            return std::atol(line.c_str() + field.size() + 1);
        }
    }
    return -1;
}

TEST_F(proxy_e2e, a_large_streamed_upload_does_not_grow_the_proxy)
{
    // 256 MiB, chunked from a pipe: the proxy holds 16 KiB of it at a time, whatever the size.
    constexpr long mib = 256;
    const long peak_before = proc_status_kib(proxy_->pid(), "VmHWM");
    ASSERT_GT(peak_before, 0);
    const auto reply = shell_output("head -c " + std::to_string(mib * 1024 * 1024) + " /dev/zero | curl -sk --max-time 300 "
                                    "--resolve good.example:" + std::to_string(port_) + ":127.0.0.1 -T - -X POST "
                                    "https://good.example:" + std::to_string(port_) + "/echo/stream");
    EXPECT_THAT(reply, HasSubstr("\"body_bytes\": " + std::to_string(mib * 1024 * 1024))) << reply;
    // Under ASan the peak says nothing: freed blocks stay resident in its quarantine (256 MiB by
    // default), and OpenSSL frees and allocates record buffers as it goes (SSL_MODE_RELEASE_BUFFERS).
    // The Release build asserts the bound.
#if !defined(__SANITIZE_ADDRESS__)
    const long peak_after = proc_status_kib(proxy_->pid(), "VmHWM");
    EXPECT_LT(peak_after - peak_before, 32 * 1024) << "peak RSS grew from " << peak_before << " KiB to " << peak_after
                                                   << " KiB for a " << mib << " MiB upload";
#endif
}

TEST_F(proxy_e2e, ambiguous_framing_is_400_and_never_forwarded)
{
    const auto before = backend_requests();
    const auto reply = send_raw_https("127.0.0.1", port_, "good.example",
                                      "POST /echo/smuggle HTTP/1.1\r\nHost: good.example\r\n"
                                      "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    EXPECT_EQ(reply.status(), 400) << reply.response << reply.error;
    EXPECT_EQ(backend_requests(), before);
}

TEST_F(proxy_e2e, obs_fold_is_400_and_never_forwarded)
{
    const auto before = backend_requests();
    const auto folded = send_raw_https("127.0.0.1", port_, "good.example",
                                       "GET /echo/folded HTTP/1.1\r\nHost: good.example\r\nX-Long: one\r\n two\r\n\r\n");
    EXPECT_EQ(folded.status(), 400) << folded.response << folded.error;
    EXPECT_EQ(backend_requests(), before);
}

TEST_F(proxy_e2e, a_missing_or_duplicated_host_is_400)
{
    const auto missing = send_raw_https("127.0.0.1", port_, "good.example", "GET /echo HTTP/1.1\r\n\r\n");
    EXPECT_EQ(missing.status(), 400) << missing.response << missing.error;
    const auto twice = send_raw_https("127.0.0.1", port_, "good.example",
                                      "GET /echo HTTP/1.1\r\nHost: good.example\r\nHost: good.example\r\n\r\n");
    EXPECT_EQ(twice.status(), 400) << twice.response << twice.error;
    const auto fine = send_raw_https("127.0.0.1", port_, "good.example",
                                     "GET /echo HTTP/1.1\r\nHost: good.example\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(fine.status(), 200) << fine.response << fine.error;
}

TEST_F(proxy_e2e, sighup_does_not_stop_the_proxy)
{
    ASSERT_EQ(::kill(proxy_->pid(), SIGHUP), 0);
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(proxy_->running()) << proxy_->log();
    EXPECT_EQ(status_of(curl("good.example", "/echo/after-hup")), 200) << proxy_->log();
}

TEST_F(proxy_e2e, an_upstream_slower_than_its_response_timeout_is_504)
{
    const auto slow = curl("slow.example", "/slow/3000");
    EXPECT_EQ(status_of(slow), 504) << slow;
    // The twin: the same upstream within its timeout.
    const auto quick = curl("slow.example", "/slow/100");
    EXPECT_EQ(status_of(quick), 200) << quick;
}

TEST_F(proxy_e2e, requests_go_round_robin_over_the_endpoints)
{
    const auto first = curl("pair.example", "/echo/rr");
    const auto second = curl("pair.example", "/echo/rr");
    ASSERT_EQ(status_of(first), 200) << first;
    ASSERT_EQ(status_of(second), 200) << second;
    const bool first_is_ee = first.find("\"backend\": \"ee50\"") != std::string::npos;
    const bool second_is_ee = second.find("\"backend\": \"ee50\"") != std::string::npos;
    EXPECT_NE(first_is_ee, second_is_ee) << "two requests, two endpoints:\n" << first << "\n" << second;
    EXPECT_THAT(first + second, HasSubstr("\"backend\": \"rsa51\""));
}

TEST_F(proxy_e2e, an_endpoint_that_fails_is_ejected_and_then_503)
{
    const auto failing = curl("dead.example", "/echo");
    EXPECT_EQ(status_of(failing), 502) << failing;
    // max_failures: 1 ejected it; with retry_after 1m nothing is left to try.
    const auto ejected = curl("dead.example", "/echo");
    EXPECT_EQ(status_of(ejected), 503) << ejected;
}

TEST_F(proxy_e2e, a_get_on_a_pooled_connection_the_upstream_dropped_is_retried_once_on_a_new_one)
{
    ASSERT_EQ(status_of(curl("good.example", "/drop-next")), 200);
    // That connection is now the newest idle one; the backend closes it as the next request comes.
    const auto reply = curl("good.example", "/echo/retried");
    EXPECT_EQ(status_of(reply), 200) << reply << proxy_->log();
    const auto record = backend_requests();
    std::size_t seen = 0;
    for (auto at = record.find("/echo/retried"); at != std::string::npos; at = record.find("/echo/retried", at + 1)) {
        ++seen;
    }
    EXPECT_EQ(seen, 2u) << "once on the dropped connection, once on the new one";
}

TEST_F(proxy_e2e, a_post_whose_body_was_sent_is_never_retried)
{
    ASSERT_EQ(status_of(curl("good.example", "/drop-next")), 200);
    const auto reply = curl("good.example", "/echo/not-retried", {"--data-binary", "a body that may have had effects"});
    EXPECT_EQ(status_of(reply), 502) << reply;
    const auto record = backend_requests();
    EXPECT_EQ(record.find("/echo/not-retried"), record.rfind("/echo/not-retried")) << "sent once only";
}

/** A client-to-server WebSocket text frame (RFC 6455 §5.2: masked), for payloads under 126 bytes. */
std::string masked_text_frame(const std::string& payload)
{
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    std::string frame{static_cast<char>(0x81), static_cast<char>(0x80 | payload.size())};
    frame.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) {
        frame += static_cast<char>(payload[i] ^ mask[i % 4]);
    }
    return frame;
}

const std::string websocket_handshake = "GET /ws HTTP/1.1\r\nHost: good.example\r\nUpgrade: websocket\r\n"
                                        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";

TEST_F(proxy_e2e, a_websocket_is_tunnelled_both_ways)
{
    // The frame goes right behind the handshake, before the 101: it must wait in the tunnel.
    const auto reply = send_raw_https("127.0.0.1", port_, "good.example",
                                      websocket_handshake + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" +
                                          masked_text_frame("hello through danegate"),
                                      2s);
    EXPECT_EQ(reply.status(), 101) << reply.response << reply.error;
    EXPECT_THAT(reply.response, HasSubstr("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) << reply.response;
    // The backend echoes the message in an unmasked server frame.
    EXPECT_THAT(reply.response, HasSubstr(std::string("\x81\x16hello through danegate"))) << reply.response;
}

TEST_F(proxy_e2e, an_invalid_websocket_handshake_is_400_and_never_forwarded)
{
    const auto before = backend_requests();
    const auto reply = send_raw_https("127.0.0.1", port_, "good.example",
                                      websocket_handshake + "Sec-WebSocket-Key: short\r\n\r\n", 2s);
    EXPECT_EQ(reply.status(), 400) << reply.response << reply.error;
    const auto h2c = send_raw_https("127.0.0.1", port_, "good.example",
                                    "GET / HTTP/1.1\r\nHost: good.example\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n");
    EXPECT_EQ(h2c.status(), 400) << h2c.response << h2c.error;
    EXPECT_EQ(backend_requests(), before);
}

TEST_F(proxy_e2e, an_http_listener_selects_http_1_1_by_alpn)
{
    const auto answer = shell_output("openssl s_client -connect 127.0.0.1:" + std::to_string(port_) +
                                     " -servername good.example -alpn http/1.1 </dev/null 2>/dev/null | grep -E 'ALPN' || true");
    EXPECT_THAT(answer, HasSubstr("ALPN protocol: http/1.1"));
}

TEST_F(proxy_e2e, tls_1_3_prefers_aes_128_gcm_and_sends_one_session_ticket)
{
    // Issue 5: the cheaper suite first, in the server's order, and one ticket per full handshake
    // (OpenSSL's defaults would give TLS_AES_256_GCM_SHA384 and two). The client waits a second
    // before its stdin ends, so it reads the tickets that follow the handshake.
    const auto answer = shell_output("sleep 1 | openssl s_client -connect 127.0.0.1:" + std::to_string(port_) +
                                     " -servername good.example -tls1_3 2>/dev/null | "
                                     "grep -E 'Cipher is|New Session Ticket arrived' || true");
    EXPECT_THAT(answer, HasSubstr("Cipher is TLS_AES_128_GCM_SHA256")) << answer;
    std::size_t tickets = 0;
    for (auto at = answer.find("New Session Ticket arrived"); at != std::string::npos;
         at = answer.find("New Session Ticket arrived", at + 1)) {
        ++tickets;
    }
    EXPECT_EQ(tickets, 1u) << answer;
}

const std::string closing_request = "GET /echo/closing HTTP/1.1\r\nHost: good.example\r\nConnection: close\r\n\r\n";

/** How many responses @p bytes holds (status lines at the start of a line). */
std::size_t responses_in(const std::string& bytes)
{
    std::size_t count = 0;
    for (auto at = bytes.find("HTTP/1.1 "); at != std::string::npos; at = bytes.find("HTTP/1.1 ", at + 1)) {
        count += at == 0 || bytes[at - 1] == '\n' ? 1 : 0;
    }
    return count;
}

std::string describe(const tls_stream_exchange& e)
{
    return "close_notify=" + std::to_string(e.peer_close_notify) + " tcp_end=" + std::to_string(static_cast<int>(e.tcp_ended)) +
           " after=" + std::to_string(e.close_notify_to_tcp_end.count()) + "ms error=" + e.error + "\n" + e.received;
}

TEST_F(proxy_e2e, a_closing_exchange_ends_with_close_notify_and_fin_without_waiting_for_the_client)
{
    ASSERT_EQ(status_of(curl("good.example", "/echo/warm")), 200);  // TLSA answer and upstream ready
    tls_stream_options options;
    options.end_after_send = false;  // the client never sends its close_notify
    options.await_tcp_end = true;
    const auto result = exchange_tls_stream("127.0.0.1", port_, "good.example", closing_request, options);
    EXPECT_EQ(responses_in(result.received), 1u) << describe(result);
    EXPECT_THAT(result.received, HasSubstr("HTTP/1.1 200 ")) << describe(result);
    EXPECT_TRUE(result.peer_close_notify) << describe(result);
    EXPECT_EQ(result.tcp_ended, tls_stream_exchange::tcp_end::fin) << describe(result);
    // As nginx: the FIN follows the close_notify at once. A proxy that waited for the client's
    // close_notify (as Asio's async_shutdown does) would hold the connection until a timeout.
    EXPECT_LT(result.close_notify_to_tcp_end, 900ms) << describe(result);
}

TEST_F(proxy_e2e, a_client_that_may_still_be_sending_gets_its_answer_and_a_fin_not_a_reset)
{
    // RFC 9112 §9.6: closing with the client's bytes unread would make the kernel send a reset,
    // which can destroy the answer before the client reads it. Here the bytes are a request
    // pipelined behind the closing one (never answered), or the client's own close_notify sent
    // right behind its request.
    tls_stream_options pipelining;
    pipelining.end_after_send = false;
    pipelining.await_tcp_end = true;
    const auto pipelined = exchange_tls_stream("127.0.0.1", port_, "good.example",
                                               closing_request + "GET /echo/second HTTP/1.1\r\nHost: good.example\r\n\r\n",
                                               pipelining);
    EXPECT_EQ(responses_in(pipelined.received), 1u) << describe(pipelined);
    EXPECT_THAT(pipelined.received, HasSubstr("HTTP/1.1 200 ")) << describe(pipelined);
    EXPECT_TRUE(pipelined.peer_close_notify) << describe(pipelined);
    EXPECT_EQ(pipelined.tcp_ended, tls_stream_exchange::tcp_end::fin) << describe(pipelined);

    tls_stream_options ending;
    ending.end_after_send = true;  // close_notify and the TCP half-close right behind the request
    ending.await_tcp_end = true;
    const auto ended = exchange_tls_stream("127.0.0.1", port_, "good.example", closing_request, ending);
    EXPECT_TRUE(ended.sent_end) << describe(ended);
    EXPECT_THAT(ended.received, HasSubstr("HTTP/1.1 200 ")) << describe(ended);
    EXPECT_TRUE(ended.peer_close_notify) << describe(ended);
    EXPECT_EQ(ended.tcp_ended, tls_stream_exchange::tcp_end::fin) << describe(ended);
}

TEST_F(proxy_e2e, an_unknown_host_has_no_route)
{
    const auto output = curl("elsewhere.example", "/echo");
    EXPECT_EQ(status_of(output), 404) << output;
}

TEST(proxy_run, an_invalid_configuration_is_refused_before_binding)
{
    const auto config = bed().dir() / "proxy-bad.yaml";
    std::ofstream(config) << "listeners: [ { name: web } ]\n";
    const auto result = run_danegate({"run", "-c", config.string()}, 20s);
    EXPECT_EQ(result.exit_code, 2) << result.describe();
    EXPECT_THAT(result.err, HasSubstr(config.string() + ":1:")) << result.describe();
}

}  // namespace
}  // namespace danegate::test
