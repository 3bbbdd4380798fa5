// Blocking OpenSSL client over a plain socket with a receive timeout; see raw_tls_client.hpp.
#include "tests/integration/raw_tls_client.hpp"

#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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
        ++out.records;  // SSL_read returns the plaintext of at most one record
    }
    return out;
}

namespace {

/** Why an SSL call failed, for test messages. */
std::string describe_ssl_error(int code)
{
    std::string text = "SSL_get_error " + std::to_string(code);
    if (const auto queued = ERR_peek_error(); queued != 0) {
        char reason[256];
        ERR_error_string_n(queued, reason, sizeof reason);
        text += std::string(": ") + reason;
    } else if (errno != 0) {
        text += std::string(": ") + std::strerror(errno);
    }
    return text;
}

/** Whether the failure of an SSL_read was the peer's TCP EOF without close_notify (OpenSSL 3). */
bool unexpected_eof(int code)
{
    if (code == SSL_ERROR_SSL) {
        return ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
    }
    return code == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0;
}

/** Reads @p fd until its TCP connection ends: a FIN (recv gives 0) or a reset. */
void await_tcp_end(int fd, std::chrono::milliseconds quiet, tls_stream_exchange& out)
{
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto give_up = start + quiet;
    char buffer[4096];
    while (clock::now() < give_up) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - clock::now());
        pollfd events{fd, POLLIN, 0};
        ::poll(&events, 1, static_cast<int>(left.count()) + 1);
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0) {
            out.bytes_after_close_notify += static_cast<std::size_t>(n);
            continue;
        }
        if (n == 0 || errno == ECONNRESET) {
            out.tcp_ended = n == 0 ? tls_stream_exchange::tcp_end::fin : tls_stream_exchange::tcp_end::reset;
            out.close_notify_to_tcp_end = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start);
            return;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            out.error = std::string("after close_notify: ") + std::strerror(errno);
            return;
        }
    }
}

}  // namespace

tls_stream_exchange exchange_tls_stream(const std::string& address, std::uint16_t port, const std::string& sni,
                                        const std::string& data, const tls_stream_options& options)
{
    using clock = std::chrono::steady_clock;
    tls_stream_exchange out;
    unique_fd socket_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(port);
    if (socket_fd.get() < 0 || inet_pton(AF_INET, address.c_str(), &peer.sin_addr) != 1 ||
        ::connect(socket_fd.get(), reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
        out.error = "connect failed";
        return out;
    }
    out.connected = true;
    sockaddr_in local{};
    socklen_t local_size = sizeof local;
    if (::getsockname(socket_fd.get(), reinterpret_cast<sockaddr*>(&local), &local_size) == 0) {
        out.local_port = ntohs(local.sin_port);
    }
    // The handshake is blocking, bounded by `quiet`; the exchange itself is non-blocking.
    timeval timeout{};
    timeout.tv_sec = static_cast<time_t>(options.quiet.count() / 1000);
    timeout.tv_usec = static_cast<suseconds_t>((options.quiet.count() % 1000) * 1000);
    ::setsockopt(socket_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(socket_fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);

    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    std::unique_ptr<SSL, decltype(&SSL_free)> owned(SSL_new(ctx.get()), &SSL_free);
    SSL* ssl = owned.get();
    SSL_set_fd(ssl, socket_fd.get());
    if (!sni.empty()) {
        SSL_set_tlsext_host_name(ssl, sni.c_str());
    }
    ERR_clear_error();
    errno = 0;
    if (const int r = SSL_connect(ssl); r != 1) {
        out.error = "TLS handshake failed: " + describe_ssl_error(SSL_get_error(ssl, r));
        return out;
    }
    out.handshake = true;
    ::fcntl(socket_fd.get(), F_SETFL, ::fcntl(socket_fd.get(), F_GETFL) | O_NONBLOCK);
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    const auto start = clock::now();
    auto last_progress = start;
    auto next_send = start;
    char buffer[16384];
    for (;;) {
        bool progress = false;
        bool want_write = false;
        const bool sending = out.sent < data.size() || (options.end_after_send && !out.sent_end);
        if (sending && clock::now() >= next_send) {
            ERR_clear_error();
            errno = 0;
            int result = 0;
            if (out.sent < data.size()) {
                const auto size = std::min(options.chunk, data.size() - out.sent);
                result = SSL_write(ssl, data.data() + out.sent, static_cast<int>(size));
                if (result > 0) {
                    out.sent += static_cast<std::size_t>(result);
                }
            } else {
                // close_notify (sent by the first SSL_shutdown; never called again, since a
                // second call would wait for the peer's), then the TCP half-close.
                result = SSL_shutdown(ssl) >= 0 ? 1 : -1;
                if (result > 0) {
                    ::shutdown(socket_fd.get(), SHUT_WR);
                    out.sent_end = true;
                }
            }
            if (result > 0) {
                progress = true;
                next_send = clock::now() + options.pause;
            } else if (const int code = SSL_get_error(ssl, result); code == SSL_ERROR_WANT_WRITE) {
                want_write = true;
            } else if (code != SSL_ERROR_WANT_READ) {
                out.error = "send: " + describe_ssl_error(code);
                break;
            }
        }
        ERR_clear_error();
        errno = 0;
        const int n = SSL_read(ssl, buffer, sizeof buffer);
        if (n > 0) {
            out.received.append(buffer, static_cast<std::size_t>(n));
            progress = true;
        } else if (const int code = SSL_get_error(ssl, n); code == SSL_ERROR_ZERO_RETURN) {
            out.peer_close_notify = true;
            break;
        } else if (unexpected_eof(code)) {
            out.peer_fin = true;
            break;
        } else if (code != SSL_ERROR_WANT_READ && code != SSL_ERROR_WANT_WRITE) {
            out.error = "receive: " + describe_ssl_error(code);
            break;
        }
        const auto now = clock::now();
        if (progress) {
            last_progress = now;
            continue;
        }
        if (now - last_progress >= options.quiet) {
            out.quiet = true;
            break;
        }
        auto wait = last_progress + options.quiet - now;
        if (sending && next_send > now) {
            wait = std::min<clock::duration>(wait, next_send - now);
        }
        pollfd events{socket_fd.get(), static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0};
        ::poll(&events, 1, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()) + 1);
    }
    out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start);
    if (out.peer_close_notify && options.await_tcp_end) {
        await_tcp_end(socket_fd.get(), options.quiet, out);
    }
    return out;
}

}  // namespace danegate::test
