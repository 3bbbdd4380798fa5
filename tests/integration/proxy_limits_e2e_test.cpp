// limits.header_timeout and limits.header_bytes end to end (issue 3 §4, DESIGN §3/§4): a client
// that sends its request header one byte per second is closed at the header timeout while other
// clients are served, and a header over header_bytes is answered 431 without reaching the
// backend. Each with its twin: a prompt (or merely slow, but in time) header and a header under
// the limit are served.
#include "tests/integration/e2e_proxy.hpp"
#include "tests/support/process.hpp"
#include "tests/support/testbed.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

namespace danegate::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto header_timeout = 3s;
constexpr auto idle_timeout = 5s;
constexpr std::size_t header_bytes = 8 * 1024;

/**
 * A TLS client that sends exactly the bytes it is told, when it is told, and reports when the
 * server closes: what a slow-loris attacker does. Blocking handshake, then a non-blocking socket
 * (a TLS 1.3 session ticket alone must not block a read).
 */
class tls_client {
public:
    /** Connects to 127.0.0.1:port and completes the handshake with SNI `sni`. */
    bool connect(std::uint16_t port, const std::string& sni)
    {
        fd_ = unique_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in peer{};
        peer.sin_family = AF_INET;
        peer.sin_port = htons(port);
        peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_.get() < 0 || ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
            return false;
        }
        ctx_.reset(SSL_CTX_new(TLS_client_method()));
        ssl_.reset(SSL_new(ctx_.get()));
        SSL_set_fd(ssl_.get(), fd_.get());
        SSL_set_tlsext_host_name(ssl_.get(), sni.c_str());
        if (SSL_connect(ssl_.get()) != 1) {
            return false;
        }
        ::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);
        return true;
    }

    /** Writes `bytes`; false when the server has closed (SIGPIPE is ignored by the suite). */
    bool send(std::string_view bytes)
    {
        std::size_t written = 0;
        const auto deadline = clock_type::now() + 5s;
        while (written < bytes.size() && clock_type::now() < deadline) {
            const int n = SSL_write(ssl_.get(), bytes.data() + written, static_cast<int>(bytes.size() - written));
            if (n > 0) {
                written += static_cast<std::size_t>(n);
                continue;
            }
            const int error = SSL_get_error(ssl_.get(), n);
            if (error != SSL_ERROR_WANT_WRITE && error != SSL_ERROR_WANT_READ) {
                ERR_clear_error();
                closed_ = true;
                return false;
            }
            pollfd pfd{fd_.get(), POLLOUT, 0};
            ::poll(&pfd, 1, 50);
        }
        return written == bytes.size();
    }

    /**
     * Reads for up to `timeout`, appending to received(). Returns early once the server has
     * closed (then closed() is true) or, when `until` is given, once received() contains it.
     */
    void read_for(std::chrono::milliseconds timeout, std::optional<std::string_view> until = std::nullopt)
    {
        const auto deadline = clock_type::now() + timeout;
        while (!closed_) {
            char buffer[16384];
            const int n = SSL_read(ssl_.get(), buffer, sizeof buffer);
            if (n > 0) {
                received_.append(buffer, static_cast<std::size_t>(n));
                if (until && received_.find(*until) != std::string::npos) {
                    return;
                }
                continue;
            }
            const int error = SSL_get_error(ssl_.get(), n);
            if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
                ERR_clear_error();
                closed_ = true;  // close_notify, EOF or reset: the connection is gone
                return;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left <= 0ms) {
                return;
            }
            pollfd pfd{fd_.get(), POLLIN, 0};
            ::poll(&pfd, 1, static_cast<int>(left.count()));
        }
    }

    bool closed() const { return closed_; }
    const std::string& received() const { return received_; }

private:
    struct ctx_free {
        void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
    };
    struct ssl_free {
        void operator()(SSL* ssl) const { SSL_free(ssl); }
    };
    // fd_ first: members are destroyed in reverse, so SSL_free runs while the descriptor is open.
    unique_fd fd_;
    std::unique_ptr<SSL_CTX, ctx_free> ctx_;
    std::unique_ptr<SSL, ssl_free> ssl_;
    std::string received_;
    bool closed_ = false;
};

/**
 * Connects over plain TCP, sends nothing, and returns how long the server took to close the
 * connection (nullopt: still open after `limit`).
 */
std::optional<clock_type::duration> silent_tcp_closed_after(std::uint16_t port, std::chrono::milliseconds limit)
{
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(port);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
        return clock_type::duration::zero();
    }
    const auto start = clock_type::now();
    pollfd pfd{fd.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(limit.count())) != 1) {
        return std::nullopt;
    }
    char byte = 0;
    if (::recv(fd.get(), &byte, 1, 0) > 0) {
        return std::nullopt;  // the server sent something (it must not, before a ClientHello)
    }
    return clock_type::now() - start;
}

int status_of(const std::string& response)
{
    if (response.size() < 12 || !response.starts_with("HTTP/1.")) {
        return 0;
    }
    return std::atoi(response.substr(9, 3).c_str());
}

class proxy_limits_e2e : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        // A server closing on a slow client makes the client's next write fail with EPIPE.
        ::signal(SIGPIPE, SIG_IGN);
        const auto& bed = testbed::get();
        const auto web50 = bed.endpoint("web50");
        proxy_ = std::make_unique<e2e_proxy>(
            "proxy-limits",
            "      - { match: { host: limits.example }, upstream: web50 }\n"
            "      - { match: { host: dead.example }, upstream: dead }\n",
            "  - { name: web50, endpoints: [ \"" + web50 + "\" ] }\n"
            // notls resolves to 127.0.0.40, where nothing listens during this suite.
            "  - { name: dead, endpoints: [ \"" + bed.endpoint("notls") + "\" ],\n"
            "      health: { max_failures: 1000 } }\n",
            "limits: { header_timeout: 3s, header_bytes: 8KiB, idle_timeout: 5s }\n");
    }

    static void TearDownTestSuite()
    {
        if (proxy_) {
            proxy_->stop();
            proxy_.reset();
        }
    }

    static std::string request(const std::string& path, const std::string& more_headers = {})
    {
        return "GET " + path + " HTTP/1.1\r\nHost: limits.example\r\n" + more_headers + "Connection: close\r\n\r\n";
    }

    static inline std::unique_ptr<e2e_proxy> proxy_;
};

TEST_F(proxy_limits_e2e, a_header_sent_one_byte_per_second_is_closed_at_the_header_timeout_while_others_are_served)
{
    tls_client slow;
    ASSERT_TRUE(slow.connect(proxy_->port(), "limits.example")) << proxy_->log();
    const auto target = unique_target("/echo/slowloris");
    const std::string header = request(target);

    // A second client, served normally while the slow one is still trickling.
    std::atomic<int> other_status{0};
    std::atomic<clock_type::time_point> other_done{};
    std::thread other([&] {
        std::this_thread::sleep_for(500ms);
        other_status = proxy_->curl("limits.example", "/echo/meanwhile", {}, 20).status;
        other_done = clock_type::now();
    });

    const auto first_byte = clock_type::now();
    std::optional<clock_type::duration> closed_after;
    for (std::size_t i = 0; i + 1 < header.size(); ++i) {  // never the last byte: never complete
        if (!slow.send(header.substr(i, 1))) {
            closed_after = clock_type::now() - first_byte;
            break;
        }
        slow.read_for(1s);
        if (slow.closed()) {
            closed_after = clock_type::now() - first_byte;
            break;
        }
        if (clock_type::now() - first_byte > 15s) {
            break;
        }
    }
    other.join();

    ASSERT_TRUE(closed_after.has_value()) << "a header trickled for 15 s was not cut off; got: " << slow.received();
    const auto seconds = std::chrono::duration<double>(*closed_after).count();
    EXPECT_GE(*closed_after, header_timeout - 1s) << "closed too early, after " << seconds << " s";
    EXPECT_LT(*closed_after, header_timeout + 5s) << "closed only after " << seconds << " s (header_timeout 3s)";
    EXPECT_NE(status_of(slow.received()), 200) << slow.received();
    EXPECT_THAT(slow.received(), Not(HasSubstr(" 200 "))) << slow.received();
    EXPECT_EQ(backend_requests_for("ee50", target), 0u) << "an incomplete header was forwarded";

    EXPECT_EQ(other_status.load(), 200) << "the other client was not served while the slow one trickled";
    EXPECT_LT(other_done.load(), first_byte + *closed_after) << "the other client was served only after the slow one";
}

TEST_F(proxy_limits_e2e, the_header_timeout_also_bounds_the_next_request_on_a_kept_alive_connection)
{
    tls_client client;
    ASSERT_TRUE(client.connect(proxy_->port(), "limits.example")) << proxy_->log();
    ASSERT_TRUE(client.send("GET /status/204 HTTP/1.1\r\nHost: limits.example\r\n\r\n"));
    client.read_for(20s, "\r\n\r\n");
    ASSERT_EQ(status_of(client.received()), 204) << client.received();
    ASSERT_FALSE(client.closed()) << "the first response did not keep the connection open";
    const auto first_response = client.received().size();

    const std::string header = request(unique_target("/echo/slowloris-again"));
    const auto first_byte = clock_type::now();
    std::optional<clock_type::duration> closed_after;
    for (std::size_t i = 0; i + 1 < header.size(); ++i) {
        if (!client.send(header.substr(i, 1))) {
            closed_after = clock_type::now() - first_byte;
            break;
        }
        client.read_for(1s);
        if (client.closed()) {
            closed_after = clock_type::now() - first_byte;
            break;
        }
        if (clock_type::now() - first_byte > 15s) {
            break;
        }
    }
    ASSERT_TRUE(closed_after.has_value()) << "a second header trickled for 15 s was not cut off";
    EXPECT_GE(*closed_after, header_timeout - 1s);
    EXPECT_LT(*closed_after, header_timeout + 5s);
    EXPECT_THAT(client.received().substr(first_response), Not(HasSubstr(" 200 ")));
}

TEST_F(proxy_limits_e2e, a_client_that_never_starts_the_tls_handshake_is_closed_at_the_header_timeout)
{
    const auto closed_after = silent_tcp_closed_after(proxy_->port(), 15s);
    ASSERT_TRUE(closed_after.has_value()) << "a silent TCP connection was held for 15 s";
    EXPECT_GE(*closed_after, header_timeout - 1s);
    EXPECT_LT(*closed_after, header_timeout + 5s);
}

TEST_F(proxy_limits_e2e, a_connection_that_sends_no_request_is_closed_at_the_idle_timeout)
{
    tls_client idle;
    ASSERT_TRUE(idle.connect(proxy_->port(), "limits.example")) << proxy_->log();
    const auto start = clock_type::now();
    idle.read_for(15s);
    ASSERT_TRUE(idle.closed()) << "an idle connection was held for 15 s";
    const auto closed_after = clock_type::now() - start;
    EXPECT_GE(closed_after, idle_timeout - 1s);
    EXPECT_LT(closed_after, idle_timeout + 5s);
    EXPECT_EQ(idle.received(), "");
}

TEST_F(proxy_limits_e2e, a_kept_alive_connection_used_again_within_the_idle_timeout_is_served)
{
    tls_client client;
    ASSERT_TRUE(client.connect(proxy_->port(), "limits.example")) << proxy_->log();
    ASSERT_TRUE(client.send("GET /status/204 HTTP/1.1\r\nHost: limits.example\r\n\r\n"));
    client.read_for(20s, "\r\n\r\n");
    ASSERT_EQ(status_of(client.received()), 204) << client.received();
    const auto first_response = client.received().size();
    // Idle for longer than the header timeout but within the idle timeout (idle time between
    // requests is not header time), then the next request.
    client.read_for(header_timeout + 500ms);
    static_assert(header_timeout + 500ms < idle_timeout - 1s);
    ASSERT_FALSE(client.closed()) << "closed before the idle timeout";
    const auto target = unique_target("/echo/after-idle");
    ASSERT_TRUE(client.send(request(target)));
    client.read_for(20s);
    EXPECT_EQ(status_of(client.received().substr(first_response)), 200) << client.received();
    EXPECT_EQ(backend_requests_for("ee50", target), 1u);
}

TEST_F(proxy_limits_e2e, a_header_sent_at_once_is_served)
{
    tls_client prompt;
    ASSERT_TRUE(prompt.connect(proxy_->port(), "limits.example")) << proxy_->log();
    const auto target = unique_target("/echo/prompt");
    ASSERT_TRUE(prompt.send(request(target)));
    prompt.read_for(20s);
    EXPECT_EQ(status_of(prompt.received()), 200) << prompt.received() << proxy_->log();
    EXPECT_EQ(backend_requests_for("ee50", target), 1u);
}

TEST_F(proxy_limits_e2e, a_header_sent_in_pieces_within_the_header_timeout_is_served)
{
    // The timeout bounds the whole header, not each read: three pieces over ~1.6 s (< 3 s) pass.
    tls_client patient;
    ASSERT_TRUE(patient.connect(proxy_->port(), "limits.example")) << proxy_->log();
    const auto target = unique_target("/echo/in-pieces");
    const std::string header = request(target);
    const auto third = header.size() / 3;
    ASSERT_TRUE(patient.send(header.substr(0, third)));
    std::this_thread::sleep_for(800ms);
    ASSERT_TRUE(patient.send(header.substr(third, third)));
    std::this_thread::sleep_for(800ms);
    ASSERT_TRUE(patient.send(header.substr(2 * third)));
    patient.read_for(20s);
    EXPECT_EQ(status_of(patient.received()), 200) << patient.received() << proxy_->log();
    EXPECT_EQ(backend_requests_for("ee50", target), 1u);
}

TEST_F(proxy_limits_e2e, a_header_over_header_bytes_is_431_and_never_forwarded)
{
    const auto before = testbed::get().backend_requests("ee50").size();
    const auto target = unique_target("/echo/ten-kib-header");
    const auto reply = proxy_->curl("limits.example", target, {"-H", "X-Big: " + std::string(10 * 1024, 'a')});
    EXPECT_EQ(reply.status, 431) << "curl exit " << reply.exit_code << ": " << reply.body.substr(0, 300);
    EXPECT_EQ(testbed::get().backend_requests("ee50").size(), before) << "the backend saw a request";
    EXPECT_EQ(backend_requests_for("ee50", target), 0u);

    // The limit is on the whole header block, not one field: twenty 512-byte fields.
    std::vector<std::string> many;
    for (int i = 0; i < 20; ++i) {
        many.insert(many.end(), {"-H", "X-Pad-" + std::to_string(i) + ": " + std::string(512, 'p')});
    }
    const auto many_target = unique_target("/echo/many-fields");
    const auto many_reply = proxy_->curl("limits.example", many_target, many);
    EXPECT_EQ(many_reply.status, 431) << "curl exit " << many_reply.exit_code << ": " << many_reply.body.substr(0, 300);
    EXPECT_EQ(backend_requests_for("ee50", many_target), 0u);
}

TEST_F(proxy_limits_e2e, a_client_still_sending_a_huge_header_gets_its_431)
{
    // 1 MiB of header: the proxy answers after 8 KiB while the client is still writing. RFC 9112
    // §9.6: the server should not close while unread data could make the kernel reset the
    // connection and destroy the 431 before the client has read it.
    tls_client client;
    ASSERT_TRUE(client.connect(proxy_->port(), "limits.example")) << proxy_->log();
    const auto target = unique_target("/echo/huge-header");
    const auto header = "GET " + target + " HTTP/1.1\r\nHost: limits.example\r\nX-Big: " + std::string(1024 * 1024, 'a') +
                        "\r\n\r\n";
    const bool sent_all = client.send(header);
    client.read_for(10s, "\r\n\r\n");
    EXPECT_EQ(status_of(client.received()), 431)
        << "sent all: " << sent_all << ", got " << client.received().size() << " bytes: " << client.received();
    EXPECT_EQ(backend_requests_for("ee50", target), 0u);
}

TEST_F(proxy_limits_e2e, a_client_still_sending_its_body_gets_the_502_of_a_dead_upstream)
{
    // The same close after an upstream failure: the proxy answers 502 as soon as the connect
    // fails, while the client is still sending a 16 MiB body (no Expect: 100-continue; more than
    // the socket buffers hold, so the client is still writing when the proxy closes).
    tls_client client;
    ASSERT_TRUE(client.connect(proxy_->port(), "dead.example")) << proxy_->log();
    const std::size_t size = 16 * 1024 * 1024;
    const bool sent_all = client.send("POST " + unique_target("/echo/upload-to-nowhere") +
                                      " HTTP/1.1\r\nHost: dead.example\r\nContent-Length: " + std::to_string(size) +
                                      "\r\n\r\n" + std::string(size, 'b'));
    client.read_for(10s, "\r\n\r\n");
    EXPECT_EQ(status_of(client.received()), 502)
        << "sent all: " << sent_all << ", got " << client.received().size() << " bytes: " << client.received();

    // The twin: the same upstream failure with nothing left unread is answered.
    const auto bodiless = proxy_->curl("dead.example", unique_target("/echo/get-to-nowhere"));
    EXPECT_EQ(bodiless.status, 502) << "curl exit " << bodiless.exit_code << ": " << bodiless.body;
}

TEST_F(proxy_limits_e2e, a_header_under_header_bytes_is_served)
{
    static_assert(6 * 1024 + 512 < header_bytes, "the twin must stay under the limit with curl's own headers");
    const auto target = unique_target("/echo/six-kib-header");
    const auto reply = proxy_->curl("limits.example", target, {"-H", "X-Big: " + std::string(6 * 1024, 'b')});
    EXPECT_EQ(reply.status, 200) << "curl exit " << reply.exit_code << ": " << reply.body.substr(0, 300);
    EXPECT_THAT(reply.body, HasSubstr(std::string(6 * 1024, 'b'))) << "the header reached the backend whole";
    EXPECT_EQ(backend_requests_for("ee50", target), 1u);
}

}  // namespace
}  // namespace danegate::test
