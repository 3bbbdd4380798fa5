// Blocking OpenSSL client over a plain socket with a receive timeout; see raw_tls_client.hpp.
#include "tests/integration/raw_tls_client.hpp"

#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>

namespace danegate::test {

int raw_exchange::status() const
{
    // "HTTP/1.1 200 OK"
    if (response.size() < 12 || !response.starts_with("HTTP/1.")) {
        return 0;
    }
    return std::atoi(response.substr(9, 3).c_str());
}

raw_exchange send_raw_https(const std::string& address, std::uint16_t port, const std::string& sni,
                            const std::string& request, std::chrono::milliseconds quiet)
{
    raw_exchange out;
    unique_fd socket_fd(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(port);
    if (socket_fd.get() < 0 || inet_pton(AF_INET, address.c_str(), &peer.sin_addr) != 1 ||
        ::connect(socket_fd.get(), reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
        out.error = "connect failed";
        return out;
    }
    out.connected = true;
    timeval timeout{};
    timeout.tv_sec = static_cast<time_t>(quiet.count() / 1000);
    timeout.tv_usec = static_cast<suseconds_t>((quiet.count() % 1000) * 1000);
    ::setsockopt(socket_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
    SSL_set_fd(ssl.get(), socket_fd.get());
    SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
    if (SSL_connect(ssl.get()) != 1) {
        out.error = "TLS handshake failed";
        return out;
    }
    std::size_t written = 0;
    while (written < request.size()) {
        const int n = SSL_write(ssl.get(), request.data() + written, static_cast<int>(request.size() - written));
        if (n <= 0) {
            out.error = "write failed";
            return out;
        }
        written += static_cast<std::size_t>(n);
    }
    char buffer[16384];
    for (;;) {
        const int n = SSL_read(ssl.get(), buffer, sizeof buffer);
        if (n <= 0) {
            break;  // closed, or quiet for the timeout
        }
        out.response.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
}

}  // namespace danegate::test
