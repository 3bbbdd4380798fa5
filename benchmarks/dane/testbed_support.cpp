// Plumbing for the test-bed benchmarks; see testbed_support.hpp. Nothing here is timed: it sets
// up what the benchmark loops use, and the helpers the loops call (connect_tcp, tls_handshake)
// are plain blocking socket and OpenSSL calls with no extra work on the success path.
#include "benchmarks/dane/testbed_support.hpp"

#include "dane/tlsa_lookup.hpp"

#include <boost/asio/io_context.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>

namespace danegate::bench {

socket_fd::~socket_fd()
{
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

socket_fd& socket_fd::operator=(socket_fd&& other) noexcept
{
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

const test::testbed* testbed_or_error(std::string& error)
{
    try {
        return &test::testbed::get();
    } catch (const std::exception& e) {
        error = std::string("test bed did not start: ") + e.what();
        return nullptr;
    }
}

dane::resolver_options testbed_resolver_options(const test::testbed& bed)
{
    dane::resolver_options options;
    options.trust_anchor_files = {bed.trust_anchor_file().string()};
    options.forwarders = {bed.forwarder()};
    return options;
}

std::shared_ptr<const dane::lookup_result> run_tlsa_lookup(boost::asio::io_context& io,
                                                           dane::unbound_resolver& resolver,
                                                           const std::string& host, std::uint16_t port)
{
    std::shared_ptr<const dane::lookup_result> result;
    dane::async_lookup_tlsa(resolver, host, port,
                            [&result](std::shared_ptr<const dane::lookup_result> r) { result = std::move(r); });
    // The resolver keeps io busy only while queries are in flight, so run() returns once done.
    io.run();
    io.restart();
    if (!result) {
        auto failed = std::make_shared<dane::lookup_result>();
        failed->detail = "the lookup handler was never called";
        result = std::move(failed);
    }
    return result;
}

std::shared_ptr<const dane::lookup_result> secure_testbed_lookup(const std::string& host, std::string& error)
{
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<const dane::lookup_result>> done;

    std::lock_guard lock(mutex);
    if (auto it = done.find(host); it != done.end()) {
        return it->second;
    }
    const test::testbed* bed = testbed_or_error(error);
    if (bed == nullptr) {
        return nullptr;
    }
    std::shared_ptr<const dane::lookup_result> result;
    {
        boost::asio::io_context io;
        auto resolver = dane::unbound_resolver::create(io, testbed_resolver_options(*bed));
        if (!resolver) {
            error = "resolver setup: " + resolver.error().message();
            return nullptr;
        }
        result = run_tlsa_lookup(io, **resolver, host, bed->port());
        // The resolver goes first, with io no longer running (unbound_resolver.hpp).
    }
    if (result->status != dane::dns_status::secure_records) {
        error = "TLSA lookup for " + host + " gave " + std::string(dane::to_string(result->status)) +
                (result->detail.empty() ? "" : " (" + result->detail + ")") + ", not secure records";
        return nullptr;
    }
    done.emplace(host, result);
    return result;
}

bool require_full_tls13_handshakes(SSL_CTX* ctx, std::string& error)
{
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
        error = "cannot restrict the context to TLS 1.3: " + openssl_errors();
        return false;
    }
    // A fresh SSL per connection never offers a session; this makes sure nothing is kept either.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    return true;
}

socket_fd connect_tcp(const char* address, std::uint16_t port, std::string& error)
{
    socket_fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!fd.valid()) {
        error = std::string("socket: ") + std::strerror(errno);
        return fd;
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(port);
    if (::inet_pton(AF_INET, address, &peer.sin_addr) != 1) {
        error = std::string("bad IPv4 address ") + address;
        return socket_fd{};
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&peer), sizeof peer) != 0) {
        error = std::string("connect to ") + address + ":" + std::to_string(port) + ": " + std::strerror(errno);
        return socket_fd{};
    }
    return fd;
}

bool tls_handshake(SSL* ssl, const char* address, std::uint16_t port, socket_fd& fd, std::string& error)
{
    fd = connect_tcp(address, port, error);
    if (!fd.valid()) {
        return false;
    }
    if (SSL_set_fd(ssl, fd.get()) != 1) {
        error = "SSL_set_fd: " + openssl_errors();
        return false;
    }
    const int rc = SSL_connect(ssl);
    if (rc == 1) {
        return true;
    }
    error = "SSL_connect failed (SSL_get_error " + std::to_string(SSL_get_error(ssl, rc)) + ", verify result: " +
            X509_verify_cert_error_string(SSL_get_verify_result(ssl)) + "): " + openssl_errors();
    return false;
}

std::string openssl_errors()
{
    std::string text;
    while (unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        text += text.empty() ? "" : "; ";
        text += buffer;
    }
    return text;
}

}  // namespace danegate::bench
