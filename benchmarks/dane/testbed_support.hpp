// Shared plumbing for the benchmarks that talk to the real test bed (tests/support/testbed.hpp:
// NSD serving the signed dg.test. zone, `openssl s_server` backends on 127.0.0.N:port()). It
// keeps the benchmarks themselves down to what they measure: getting the test bed, one real
// DNSSEC-validated TLSA lookup per host (done once, outside any timed region), client SSL_CTX
// settings that force a full TLS 1.3 handshake every time, and a blocking TCP connect so that
// neither Asio nor the resolver shows up in handshake numbers.
//
// Files named testbed_*.cpp need danegate_test_support, which exists only with DANEGATE_TESTS=ON;
// benchmarks/CMakeLists.txt leaves them out otherwise.
#pragma once

#include "dane/lookup_result.hpp"
#include "dane/unbound_resolver.hpp"
#include "tests/support/testbed.hpp"

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace danegate::bench {

struct ssl_ctx_deleter {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
struct ssl_deleter {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_deleter>;
using ssl_ptr = std::unique_ptr<SSL, ssl_deleter>;

/** A socket descriptor closed on destruction (-1: none). */
class socket_fd {
public:
    socket_fd() = default;
    explicit socket_fd(int fd) : fd_(fd) {}
    ~socket_fd();
    socket_fd(socket_fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    socket_fd& operator=(socket_fd&& other) noexcept;
    socket_fd(const socket_fd&) = delete;
    socket_fd& operator=(const socket_fd&) = delete;

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

/** The test bed, started on first use; nullptr with @p error set when it cannot start. */
const test::testbed* testbed_or_error(std::string& error);

/** What the benchmarks' resolvers use: the test bed's trust anchor and NSD as forwarder. */
dane::resolver_options testbed_resolver_options(const test::testbed& bed);

/**
 * Runs one async_lookup_tlsa for (@p host, @p port) on @p io until it completes (io.run(), then
 * io.restart() so @p io can be used again). Never null.
 * @pre nothing else is running @p io.
 */
std::shared_ptr<const dane::lookup_result> run_tlsa_lookup(boost::asio::io_context& io,
                                                           dane::unbound_resolver& resolver,
                                                           const std::string& host, std::uint16_t port);

/**
 * The TLSA lookup for @p host at the test bed's port, through a real validating resolver, done
 * once per host and process and kept. Null with @p error set unless the status is secure_records.
 */
std::shared_ptr<const dane::lookup_result> secure_testbed_lookup(const std::string& host, std::string& error);

/**
 * Makes every handshake on @p ctx a full TLS 1.3 handshake: TLS 1.3 only, no client session
 * cache, no tickets. The PKIX and DANE contexts both go through this, so they differ only in
 * how the peer is authenticated. @return false (with @p error) when OpenSSL refuses.
 */
bool require_full_tls13_handshakes(SSL_CTX* ctx, std::string& error);

/** A blocking TCP connection to @p address (IPv4 text) : @p port, TCP_NODELAY set. */
socket_fd connect_tcp(const char* address, std::uint16_t port, std::string& error);

/**
 * Connects to @p address:@p port and runs a blocking SSL_connect on @p ssl over it. @p fd
 * receives the connection (keep it open until @p ssl is freed). @return whether SSL_connect
 * returned 1; otherwise @p error says why (OpenSSL's error queue is cleared).
 */
bool tls_handshake(SSL* ssl, const char* address, std::uint16_t port, socket_fd& fd, std::string& error);

/** OpenSSL's queued errors as text (and clears the queue); "" when none. */
std::string openssl_errors();

}  // namespace danegate::bench
