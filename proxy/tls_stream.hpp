// A TLS stream whose SSL reads and writes the TCP socket itself (issue 5: ≤ 40 KiB per idle TLS
// connection). asio::ssl::stream keeps four ~17 KiB buffers per stream for its whole life (two in
// stream_core, two in the engine's BIO pair) and copies every byte through them. Here OpenSSL
// talks to the socket directly through a small BIO that calls recv/send with MSG_DONTWAIT and
// MSG_NOSIGNAL (SSL_set_fd's BIO would write() and raise SIGPIPE on a reset peer), with
// SSL_MODE_RELEASE_BUFFERS, so an idle stream holds the SSL object and a 2 KiB inbox; when
// OpenSSL says WANT_WRITE the operation waits with socket.async_wait and tries again (the pattern
// nginx uses with SSL_set_fd). When it says WANT_READ, the operation reads the socket into the
// inbox (async_receive) and tries again; the BIO hands the inbox out, and reads the socket itself
// only while the last read filled its buffer (more may be there already). Asio re-arms epoll
// (epoll_ctl) for every async_wait; a read it tries at once instead, and when nothing is there it
// queues the read without epoll_ctl (the socket stays registered, edge-triggered). A wait for
// bytes then costs at most one failed recv, and nothing when they are already there.
//
// It is a drop-in for how danegate used ssl::stream<tcp::socket>: the same constructors, layers,
// async_handshake/async_read_some/async_write_some/async_shutdown, and the same error codes
// (close_notify -> error::eof, a FIN without it -> ssl::error::stream_truncated, OpenSSL errors in
// error::get_ssl_category()), so Beast's http::async_read/async_write work on it unchanged.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/types.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <memory>
#include <utility>

namespace danegate::proxy {

/**
 * The TLS 1.3 cipher suites danegate offers on both legs, in order: AES-128-GCM first (see
 * tls_server_context.cpp), then OpenSSL's other two.
 */
inline constexpr const char* tls13_suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

namespace tls_detail {

/** What one non-blocking OpenSSL call left to do. */
enum class want { nothing, read, write };

/**
 * Bytes the reactor read from the socket for the SSL; its BIO hands them out before it reads the
 * socket itself. On the heap, so that the BIO's pointer to it survives a move of the stream.
 * Touched only on the stream's strand, and by the reactor while a read into it is pending.
 */
struct inbox {
    static constexpr std::size_t capacity = 2048;  // a request's or a ClientHello's first record, usually

    int fd = -1;          // the descriptor the BIO reads when the inbox is empty
    std::size_t begin = 0;
    std::size_t end = 0;
    bool reading = false;  // a read into the inbox is pending: the BIO must not read the socket
    bool more = false;     // the last read filled its buffer: the socket may hold more already
    bool eof = false;      // the read found the peer's FIN
    int error = 0;         // the read failed with this errno
    std::array<char, capacity> bytes;  // not zeroed: only [begin, end) is ever read

    /** Forgets everything: a new descriptor (the socket was reopened) starts empty. */
    void reset(int descriptor) noexcept
    {
        fd = descriptor;
        begin = end = 0;
        reading = more = eof = false;
        error = 0;
    }

    /** Whether the BIO would hand out something without reading: bytes, or the end. */
    bool holds_something() const noexcept { return begin < end || eof || error != 0; }

    /** Records what a read into the inbox brought: bytes, the FIN, or an error for the BIO to report. */
    void received(const boost::system::error_code& ec, std::size_t size) noexcept;
};

/** The fixed part of every operation; `Step` is the OpenSSL call (see tls_stream's private steps). */
template <class Stream, class Step>
class io_op {
public:
    io_op(Stream& stream, Step step) : stream_(&stream), step_(std::move(step)) {}

    template <class Self>
    void operator()(Self& self, boost::system::error_code wait_ec = {})
    {
        if (phase_ == phase::posted) {
            finish(self);
            return;
        }
        if (phase_ == phase::waiting && wait_ec) {
            // The socket was closed or cancelled under the wait (operation_aborted): report it as
            // the socket's own operation would have.
            ec_ = wait_ec;
            finish(self);
            return;
        }
        const want next = step_(*stream_, ec_);
        if (next != want::nothing) {
            phase_ = phase::waiting;
            if (next == want::read) {
                if (auto in = stream_->inbox_for_read()) {
                    in->reading = true;
                    // Held by the operation: the buffer the reactor fills outlives the stream
                    // (an upstream connection can be destroyed with its read pending).
                    inbox_ = std::move(in);
                    stream_->next_layer().async_receive(boost::asio::buffer(inbox_->bytes), std::move(self));
                    return;
                }
            }
            stream_->next_layer().async_wait(next == want::read ? Stream::next_layer_type::wait_read
                                                                : Stream::next_layer_type::wait_write,
                                             std::move(self));
            return;
        }
        if (phase_ == phase::starting) {
            // Finished without waiting: the handler must not run inside the initiating function
            // (Asio's rule; Beast's composed operations rely on it), so post it to its executor.
            phase_ = phase::posted;
            boost::asio::post(std::move(self));
            return;
        }
        finish(self);
    }

    /** The read into the inbox finished: record what it brought, then carry on as after a wait. */
    template <class Self>
    void operator()(Self& self, boost::system::error_code read_ec, std::size_t received)
    {
        const std::shared_ptr<inbox> in = std::move(inbox_);
        in->reading = false;
        if (read_ec == boost::asio::error::operation_aborted || read_ec == boost::asio::error::bad_descriptor) {
            // Cancelled, or the socket closed: the stream may be gone with it, so the operation
            // ends here without touching it, as after a wait.
            (*this)(self, read_ec);
            return;
        }
        in->received(read_ec, received);
        (*this)(self);
    }

private:
    enum class phase { starting, waiting, posted };

    template <class Self>
    void finish(Self& self)
    {
        if constexpr (Step::has_size) {
            self.complete(ec_, step_.transferred());
        } else {
            self.complete(ec_);
        }
    }

    Stream* stream_;
    Step step_;
    std::shared_ptr<inbox> inbox_;  // while a read into it is pending
    boost::system::error_code ec_;
    phase phase_ = phase::starting;
};

}  // namespace tls_detail

/**
 * TLS over a boost::asio::ip::tcp::socket, with the SSL reading and writing the socket directly.
 *
 * Full duplex: one read (async_read_some or async_handshake/async_shutdown) and one write
 * (async_write_some) may be pending at once, provided all handlers run on one strand (every
 * SSL call happens in a handler or an initiating function). Each operation's handler, and its
 * intermediate steps, run on the handler's associated executor, so bind_executor works.
 *
 * Movable only while no operation is pending (as asio::ssl::stream). Destroying it frees the SSL
 * and closes the socket.
 */
class tls_stream {
public:
    using next_layer_type = boost::asio::ip::tcp::socket;
    using lowest_layer_type = next_layer_type::lowest_layer_type;
    using executor_type = next_layer_type::executor_type;
    using native_handle_type = SSL*;
    using handshake_type = boost::asio::ssl::stream_base::handshake_type;

    /**
     * @param arg what the socket is made from: a connected tcp::socket&&, an executor or an
     *        execution context (the socket is then opened by connect, before the handshake).
     * @param context its SSL_CTX is used as is (the SSL inherits its verify mode, callbacks, DANE).
     * @throws boost::system::system_error when OpenSSL cannot make the SSL object.
     */
    template <class Arg>
    tls_stream(Arg&& arg, boost::asio::ssl::context& context)
        : socket_(std::forward<Arg>(arg)), ssl_(make_ssl(context))
    {
    }

    // Member-wise: the SSL's BIO holds the inbox (with the descriptor), not the socket object, so it
    // survives the move.
    tls_stream(tls_stream&& other) noexcept = default;
    tls_stream& operator=(tls_stream&& other) noexcept = default;
    tls_stream(const tls_stream&) = delete;
    tls_stream& operator=(const tls_stream&) = delete;
    ~tls_stream() = default;

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    next_layer_type& next_layer() noexcept { return socket_; }
    const next_layer_type& next_layer() const noexcept { return socket_; }
    lowest_layer_type& lowest_layer() noexcept { return socket_.lowest_layer(); }
    const lowest_layer_type& lowest_layer() const noexcept { return socket_.lowest_layer(); }
    /** The SSL, for SNI, DANE and session calls made before or after the handshake. */
    native_handle_type native_handle() noexcept { return ssl_.get(); }

    /** Runs the TLS handshake as client or server. Completion: void(error_code). */
    template <class Token>
    auto async_handshake(handshake_type type, Token&& token)
    {
        return boost::asio::async_compose<Token, void(boost::system::error_code)>(
            tls_detail::io_op<tls_stream, handshake_step>(*this, handshake_step{type}), token, socket_);
    }

    /**
     * Sends close_notify and waits for the peer's (RFC 8446 §6.1), as asio's async_shutdown.
     * A reading operation: it must not overlap an async_read_some. Completion: void(error_code).
     */
    template <class Token>
    auto async_shutdown(Token&& token)
    {
        return boost::asio::async_compose<Token, void(boost::system::error_code)>(
            tls_detail::io_op<tls_stream, shutdown_step>(*this, shutdown_step{}), token, socket_);
    }

    /**
     * Completes when a read would find something: OpenSSL already holds bytes (SSL_has_pending),
     * or the socket is readable. Lets an idle connection wait without a read buffer, and take
     * one only when a request begins (nginx does the same). A reading operation: it must not
     * overlap an async_read_some. Completion: void(error_code).
     */
    template <class Token>
    auto async_wait_readable(Token&& token)
    {
        return boost::asio::async_compose<Token, void(boost::system::error_code)>(
            tls_detail::io_op<tls_stream, readable_step>(*this, readable_step{}), token, socket_);
    }

    /**
     * Reads at most one TLS record's plaintext into the first non-empty buffer.
     * Completion: void(error_code, std::size_t); error::eof after the peer's close_notify,
     * ssl::error::stream_truncated after a TCP end without one.
     */
    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token)
    {
        boost::asio::mutable_buffer first;
        for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
            if (boost::asio::buffer_size(*it) > 0) {
                first = *it;
                break;
            }
        }
        return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            tls_detail::io_op<tls_stream, read_step>(*this, read_step{first}), token, socket_);
    }

    /**
     * Writes all of @p buffers (a write_some that happens to complete fully, unless an error ends
     * it: then the bytes written so far). Small buffers are gathered into one record of up to
     * 16 KiB, so Beast's header + body sequences do not become one record and one send each.
     * Completion: void(error_code, std::size_t).
     */
    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token)
    {
        return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            tls_detail::io_op<tls_stream, write_step<ConstBufferSequence>>(*this, write_step<ConstBufferSequence>{buffers}),
            token, socket_);
    }

    /**
     * Reads into @p buffer what the stream already holds, for a caller that knows (or guesses)
     * that bytes are there, such as after async_wait_readable: it avoids an operation and its
     * completion. Reads the socket only while the last read filled the inbox. Sets
     * error::would_block, with 0 read, when no whole record is there yet; other errors as
     * async_read_some's.
     */
    std::size_t try_read(boost::asio::mutable_buffer buffer, boost::system::error_code& ec);

    /**
     * Writes as much of @p buffer as the socket takes now, without waiting. All of it, usually:
     * the common case then needs no operation at all. Sets error::would_block when the socket
     * is full; the rest (from the returned count) must then go with async_write_some, whose
     * first attempt repeats exactly what OpenSSL asked to be retried.
     */
    std::size_t try_write(boost::asio::const_buffer buffer, boost::system::error_code& ec);

    /**
     * Sends as much of @p record, bytes that are TLS records already (a close_notify made with
     * take_close_notify), as the socket takes now, straight to it: never waits. Sets
     * error::would_block when it takes nothing.
     */
    std::size_t try_send_record(boost::asio::const_buffer record, boost::system::error_code& ec);

    /**
     * Whether bytes from the peer wait unread, in OpenSSL or in the socket (a non-blocking peek;
     * a FIN alone is not input). For deciding whether a close would make the kernel send a reset.
     */
    bool input_waiting();

private:
    template <class, class>
    friend class tls_detail::io_op;

    struct ssl_free {
        void operator()(SSL* ssl) const noexcept;
    };

    static SSL* make_ssl(boost::asio::ssl::context& context);

    /** Gives the SSL a BIO on the socket's current descriptor; false (ec set) when it is closed. */
    bool attach(boost::system::error_code& ec);

    /**
     * The inbox, when an operation may read the socket into it now (it is empty, and no other
     * read into it is pending; a second waiter, such as a write that wants to read, waits with
     * async_wait instead). Allocated on first use.
     */
    std::shared_ptr<tls_detail::inbox> inbox_for_read();

    // One non-blocking OpenSSL call each, in tls_stream.cpp. They return what to wait for, or
    // nothing with `ec` set (or clear: done).
    /** Whether OpenSSL holds unread bytes; false with ec set when the socket is closed. */
    bool readable_now(boost::system::error_code& ec);
    tls_detail::want handshake_once(handshake_type type, boost::system::error_code& ec);
    tls_detail::want shutdown_once(boost::system::error_code& ec);
    tls_detail::want read_once(void* data, std::size_t size, std::size_t& read, boost::system::error_code& ec);
    tls_detail::want write_once(const void* data, std::size_t size, std::size_t& written, boost::system::error_code& ec);

    struct handshake_step {
        static constexpr bool has_size = false;
        handshake_type type;
        tls_detail::want operator()(tls_stream& s, boost::system::error_code& ec) { return s.handshake_once(type, ec); }
    };

    struct shutdown_step {
        static constexpr bool has_size = false;
        tls_detail::want operator()(tls_stream& s, boost::system::error_code& ec) { return s.shutdown_once(ec); }
    };

    struct readable_step {
        static constexpr bool has_size = false;
        bool waited = false;
        tls_detail::want operator()(tls_stream& s, boost::system::error_code& ec)
        {
            if (waited) {
                return tls_detail::want::nothing;  // the socket became readable
            }
            if (s.readable_now(ec) || ec) {
                return tls_detail::want::nothing;
            }
            waited = true;
            return tls_detail::want::read;
        }
    };

    struct read_step {
        static constexpr bool has_size = true;
        boost::asio::mutable_buffer buffer;
        std::size_t read = 0;
        std::size_t transferred() const noexcept { return read; }
        tls_detail::want operator()(tls_stream& s, boost::system::error_code& ec)
        {
            if (buffer.size() == 0) {
                return tls_detail::want::nothing;  // as Asio: an empty read completes at once with 0
            }
            return s.read_once(buffer.data(), buffer.size(), read, ec);
        }
    };

    template <class ConstBufferSequence>
    struct write_step {
        static constexpr bool has_size = true;
        static constexpr std::size_t record_size = 16 * 1024;  // TLS's largest plaintext record
        ConstBufferSequence buffers;
        std::size_t written = 0;
        std::size_t transferred() const noexcept { return written; }

        tls_detail::want operator()(tls_stream& s, boost::system::error_code& ec)
        {
            const std::size_t total = boost::asio::buffer_size(buffers);
            while (written < total) {
                // The contiguous piece at `written`.
                std::size_t skip = written;
                boost::asio::const_buffer piece;
                auto it = boost::asio::buffer_sequence_begin(buffers);
                const auto end = boost::asio::buffer_sequence_end(buffers);
                for (; it != end; ++it) {
                    const boost::asio::const_buffer b(*it);
                    if (skip < b.size()) {
                        piece = b + skip;
                        break;
                    }
                    skip -= b.size();
                }
                // Gather small pieces: the same bytes again on a retry after WANT_WRITE, as
                // OpenSSL requires (the address may move: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
                std::array<unsigned char, record_size> gathered;
                const void* data = piece.data();
                std::size_t size = piece.size();
                if (size < record_size && total - written > size) {
                    size = 0;
                    auto append = [&](boost::asio::const_buffer b) {
                        const std::size_t n = std::min(b.size(), record_size - size);
                        std::memcpy(gathered.data() + size, b.data(), n);
                        size += n;
                    };
                    append(piece);
                    for (auto next = std::next(it); next != end && size < record_size; ++next) {
                        append(boost::asio::const_buffer(*next));
                    }
                    data = gathered.data();
                }
                std::size_t n = 0;
                const tls_detail::want next = s.write_once(data, size, n, ec);
                written += n;
                if (next != tls_detail::want::nothing || ec) {
                    return next;
                }
            }
            return tls_detail::want::nothing;
        }
    };

    next_layer_type socket_;
    std::unique_ptr<SSL, ssl_free> ssl_;
    // What the BIO reads: bytes read ahead, and the descriptor. Shared with a pending read into it.
    std::shared_ptr<tls_detail::inbox> inbox_;
    int attached_fd_ = -1;  // the descriptor the SSL's BIO holds; -1 until the first operation
};

}  // namespace danegate::proxy
