// A deliberately dumb HTTPS client for black-box proxy tests: it sends the exact bytes a test
// gives it (malformed framing included, which real clients refuse to produce) and returns every
// byte the server sent until it closed or went quiet. Certificate checks are off: the proxy's own
// certificate is not what these tests are about. exchange_tls_stream does the same for a byte
// stream (TCP listeners): it sends and receives at once and can half-close.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace danegate::test {

struct raw_exchange {
    bool connected = false;
    std::string response;  ///< everything received
    std::size_t records = 0;  ///< TLS records that brought it (one SSL_read each)
    std::string error;     ///< why the exchange ended early, if it did

    /** The status code of the first response line ("HTTP/1.1 502 ..."), or 0. */
    int status() const;
};

/**
 * Connects to @p address:@p port over TLS with SNI @p sni, writes @p request, and reads until the
 * server closes or nothing arrives for @p quiet.
 */
raw_exchange send_raw_https(const std::string& address, std::uint16_t port, const std::string& sni,
                            const std::string& request,
                            std::chrono::milliseconds quiet = std::chrono::milliseconds{3000});

/** How a two-way stream exchange (exchange_tls_stream) went. */
struct tls_stream_exchange {
    bool connected = false;       ///< the TCP connection was accepted
    bool handshake = false;       ///< the TLS handshake completed
    std::string received;         ///< every byte received
    std::size_t sent = 0;         ///< bytes written
    bool sent_end = false;        ///< we sent close_notify and shut down our sending side
    bool peer_close_notify = false;  ///< the peer ended its direction with close_notify
    bool peer_fin = false;        ///< the peer's TCP stream ended without close_notify
    bool quiet = false;           ///< gave up: nothing moved for `quiet`
    std::string error;            ///< a TLS or socket error that ended it, if any
    std::chrono::milliseconds elapsed{0};  ///< from the end of the handshake to the end
    std::uint16_t local_port = 0;  ///< our side of the connection (how the proxy's logs name us)

    /** How the TCP connection ended after the peer's close_notify (tls_stream_options::await_tcp_end). */
    enum class tcp_end { not_seen, fin, reset };
    tcp_end tcp_ended = tcp_end::not_seen;
    std::chrono::milliseconds close_notify_to_tcp_end{0};  ///< from the close_notify to that end
    std::size_t bytes_after_close_notify = 0;              ///< raw bytes that came after it

    /** Whether the peer ended the stream one way or the other (not quiet, not an error). */
    bool peer_ended() const { return peer_close_notify || peer_fin; }
};

struct tls_stream_options {
    /** After the last byte: send close_notify, then shutdown(SHUT_WR), and keep reading. */
    bool end_after_send = true;
    /** Stop when nothing was sent or received for this long. */
    std::chrono::milliseconds quiet{5000};
    /** Bytes per SSL_write. */
    std::size_t chunk = 16 * 1024;
    /**
     * After the peer's close_notify, read the raw socket (without answering with our own
     * close_notify) until the TCP connection ends or nothing comes for `quiet`.
     */
    bool await_tcp_end = false;
    /** Wait this long after each chunk before the next one (and before the end). */
    std::chrono::milliseconds pause{0};
};

/**
 * Connects to @p address:@p port over TLS with SNI @p sni (none when empty) and sends @p data while reading
 * concurrently (non-blocking, so neither side's buffers can deadlock a large echo), then, per
 * @p options, ends its direction and reads until the peer ends, fails, or goes quiet.
 */
tls_stream_exchange exchange_tls_stream(const std::string& address, std::uint16_t port, const std::string& sni,
                                        const std::string& data, const tls_stream_options& options = {});

}  // namespace danegate::test
