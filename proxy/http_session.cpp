// The downstream HTTP/1.1 session: TLS handshake, then per request: read the header (bounded by
// limits.header_bytes and limits.header_timeout), validate it (http_rules), route it, obtain a
// DANE-authenticated upstream from the connector, relay the request and the response with bounded
// buffers in both directions (16 KiB at a time, never the whole body; a response body is relayed
// from where it was read, view_body.hpp), and keep the connection alive when both sides allow.
// Every step has a deadline. Runs on the strand made at accept; the upstream leg shares it, so
// nothing here takes a lock.
#include "proxy/http_session.hpp"

#include "proxy/buffer_recycling.hpp"
#include "proxy/byte_relay.hpp"
#include "proxy/close_notify.hpp"
#include "proxy/errc.hpp"
#include "proxy/http_rules.hpp"
#include "proxy/wire_format.hpp"
#include "proxy/tls_stream.hpp"
#include "proxy/view_body.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <array>
#include <limits>
#include <optional>
#include <utility>

namespace danegate::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t body_chunk = 16 * 1024;
constexpr unsigned max_interim_responses = 8;
constexpr auto no_body_limit = std::numeric_limits<std::uint64_t>::max();

/** A session's read buffer: its storage is recycled across exchanges (buffer_recycling.hpp). */
using session_buffer = beast::basic_flat_buffer<recycling_allocator<char>>;

std::string to_text(beast::string_view view)
{
    return {view.data(), view.size()};
}

/**
 * Parses body bytes that already arrived (read along with the header, or with the piece before)
 * in @p from, without I/O. @return the next piece of the body, at most @p limit bytes: it lies in
 * @p from and is valid until @p from is next written to (view_body.hpp).
 */
std::string_view take_buffered_piece(http::response_parser<view_body>& parser, session_buffer& from, std::size_t limit,
                                     error_code& ec)
{
    auto& body = parser.get().body();
    body.make_room(limit);
    parser.eager(true);
    while (!parser.is_done() && from.size() > 0 && body.piece().empty()) {
        const auto used = parser.put(from.data(), ec);
        from.consume(used);  // moves no bytes: the piece stays where it is
        if (ec == http::error::need_more || ec == http::error::need_buffer) {
            ec = {};  // the rest is still to be read, or waits for this piece to be relayed
            break;
        }
        if (ec || used == 0) {
            break;
        }
    }
    return body.piece();
}

/**
 * Beast reads at most max(512, free capacity) bytes per read, and a flat_buffer only grows when
 * asked to: without this, a body moved in 512-byte reads, each sent on as its own 534-byte TLS
 * record (measured: 63 sends for a 64 KiB response). A chunk's worth of room makes a read take a
 * whole TLS record. While idle, the room is given back (do_wait_request).
 */
void reserve_for_body(session_buffer& buffer)
{
    if (buffer.capacity() < body_chunk) {
        buffer.reserve(std::min(body_chunk, buffer.max_size()));
    }
}

class http_session : public std::enable_shared_from_this<http_session> {
public:
    http_session(tcp::socket&& socket, const tcp::endpoint& peer, std::shared_ptr<proxy_state> state,
                 std::shared_ptr<const generation> generation, std::shared_ptr<const listener_runtime> listener)
        : state_(std::move(state)),
          generation_(std::move(generation)),
          listener_(std::move(listener)),
          limits_(generation_->config->limits),
          client_(std::move(socket), listener_->tls->context()),
          deadline_(client_.get_executor()),
          client_ip_(peer.address().to_string()),
          client_text_(client_ip_ + ":" + std::to_string(peer.port())),
          // Bounded: Beast 1.81 does not cap chunk extensions or trailers by header_limit, so
          // the buffer's own limit stops a client (or upstream) from growing it without end.
          client_buffer_(limits_.header_bytes + body_chunk),
          upstream_buffer_(limits_.header_bytes + body_chunk)
    {
        error_code ec;
        // Responses go out as header then body writes: without this, Nagle holds the second for
        // the client's delayed ACK.
        client_.lowest_layer().set_option(tcp::no_delay(true), ec);
    }

    void start()
    {
        // Everything this session does happens on its own strand, its start included.
        net::dispatch(client_.get_executor(), [self = shared_from_this()] { self->do_start(); });
    }

private:
    void do_start()
    {
        // The drain function may run on any thread: it only posts to this session's strand.
        std::weak_ptr<http_session> weak = shared_from_this();
        auto executor = client_.get_executor();
        tracked_ = state_->connections.add(listener_->config.name, [weak, executor] {
            net::post(executor, [weak] {
                if (auto self = weak.lock()) {
                    self->on_drain();
                }
            });
        });
        do_handshake();
    }

    enum class side { client, upstream };

    /**
     * Binds a handler of an upstream operation to this session's strand. A pooled connection was
     * made on the strand of the session that opened it; bound handlers (and every intermediate
     * step of Beast's and Asio's composed operations) run here instead.
     */
    template <class Handler>
    auto on_strand(Handler&& handler)
    {
        return net::bind_executor(client_.get_executor(), std::forward<Handler>(handler));
    }

    /**
     * Writes @p data to @p stream, then calls @p next(ec). Most writes complete at once (the
     * socket has room), and then no operation is started, no deadline set, and @p next runs
     * here: what nginx does, and a post, a completion and two executor work counts less per
     * write. Only what the socket could not take waits, for at most @p timeout on @p which side.
     */
    template <class Next>
    void write_then(tls_stream& stream, net::const_buffer data, conf::duration timeout, side which, Next next)
    {
        error_code ec;
        const std::size_t written = stream.try_write(data, ec);
        if (ec != net::error::would_block) {
            next(ec);
            return;
        }
        arm(timeout, which);
        net::async_write(stream, data + written,
                         on_strand([self = shared_from_this(), next = std::move(next)](error_code ec, std::size_t) mutable {
                             self->disarm();
                             next(ec);
                         }));
    }

    // ---- deadlines (STYLE rec. 3): one deadline per operation, one lazy timer --------------
    //
    // Every operation gets a deadline (arm) that ends with it (disarm), but the timer is not
    // cancelled and re-armed each time: that would cost two handler runs per operation, about
    // ten per request. arm() and disarm() only record the deadline; the timer keeps waiting for
    // the time it was set to and, when it fires, either acts on the deadline that is due or waits
    // again for the current one. It is re-armed early only when a deadline comes before the
    // time it waits for (a shorter timeout than the operation before).

    void arm(conf::duration timeout, side which)
    {
        deadline_at_ = std::chrono::steady_clock::now() + timeout;
        deadline_side_ = which;
        if (!timer_waiting_ || deadline_at_ < deadline_.expiry()) {
            wait_for_deadline();
        }
    }

    void disarm() { deadline_at_ = no_deadline; }

    void wait_for_deadline()
    {
        timer_waiting_ = true;
        deadline_.expires_at(deadline_at_);  // cancels a wait for a later time, if any
        deadline_.async_wait([self = shared_from_this(), wait = ++deadline_wait_](error_code ec) {
            self->on_deadline(ec, wait);
        });
    }

    void on_deadline(error_code ec, unsigned wait)
    {
        if (wait != deadline_wait_) {
            return;  // replaced by a wait for an earlier deadline
        }
        timer_waiting_ = false;
        if (ec || deadline_at_ == no_deadline) {
            return;  // cancelled (the session closes), or no operation is pending
        }
        if (std::chrono::steady_clock::now() < deadline_at_) {
            wait_for_deadline();  // the operation it was set for ended; a later one is pending
            return;
        }
        deadline_at_ = no_deadline;
        error_code ignored;
        if (deadline_side_ == side::upstream) {
            // Close only the upstream: the pending upstream operation fails and the client
            // can still get its 504.
            upstream_timed_out_ = true;
            if (upstream_) {
                upstream_->stream.lowest_layer().close(ignored);
            }
        } else {
            client_timed_out_ = true;
            client_.lowest_layer().close(ignored);
            if (upstream_) {
                upstream_->stream.lowest_layer().close(ignored);
            }
        }
    }

    // ---- TLS ----------------------------------------------------------------------------------

    void do_handshake()
    {
        arm(limits_.header_timeout, side::client);
        client_.async_handshake(net::ssl::stream_base::server,
                                [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
    }

    void on_handshake(error_code ec)
    {
        disarm();
        if (ec) {
            spdlog::debug("{}: TLS handshake failed: {}", client_text_, client_timed_out_ ? "timed out" : ec.message());
            do_close();
            return;
        }
        if (const char* name = SSL_get_servername(client_.native_handle(), TLSEXT_NAMETYPE_host_name)) {
            sni_ = name;
        }
        do_wait_request();
    }

    // ---- request header -----------------------------------------------------------------------

    // Waiting for the first byte of a request is idle time (limits.idle_timeout); from there the
    // whole header must arrive within limits.header_timeout (slow-header defence).
    void do_wait_request()
    {
        if (state_->draining.load()) {
            do_close();
            return;
        }
        adopt_current_generation();
        // The last exchange has been reported: its state goes now, once, whether the next request
        // is already buffered (pipelined) or the connection goes idle first.
        reset_request();
        if (client_buffer_.size() > 0) {
            do_read_header();
            return;
        }
        waiting_idle_ = true;
        arm(limits_.idle_timeout, side::client);
        // Issue 5 (≤ 40 KiB per idle connection): an idle keep-alive connection holds no buffer
        // and no parser of its own (only the stream's 2 KiB inbox, which its wait reads into).
        // The last exchange has been reported, so its state can go now rather than at the next
        // request (reset above); the read buffer is taken only once bytes arrive. A response
        // piece buffer is kept while small (it is reused without allocating), not once it grew
        // to a body chunk.
        client_buffer_.shrink_to_fit();
        upstream_buffer_.shrink_to_fit();
        if (client_out_.capacity() > 4096) {
            std::string().swap(client_out_);
        }
        client_.async_wait_readable([self = shared_from_this()](error_code ec) { self->on_readable(ec); });
    }

    void on_readable(error_code ec)
    {
        if (ec) {
            on_first_bytes(ec, 0);
            return;
        }
        // Readable: the request's first record is usually whole, so it is read here and now.
        const std::size_t n = client_.try_read(client_buffer_.prepare(4096), ec);
        if (ec == net::error::would_block) {
            client_.async_read_some(client_buffer_.prepare(4096), [self = shared_from_this()](error_code read_ec, std::size_t got) {
                self->on_first_bytes(read_ec, got);
            });
            return;
        }
        on_first_bytes(ec, n);
    }

    /**
     * DESIGN §2: a new request uses the configuration installed now (the exchange before it is
     * over, so nothing still points into the old generation). A reload that removed this
     * listener leaves the connection on the generation it has.
     */
    void adopt_current_generation()
    {
        auto latest = state_->current();
        if (latest == generation_) {
            return;
        }
        if (auto runtime = latest->listener(listener_->config.name)) {
            listener_ = std::move(runtime);
            generation_ = std::move(latest);
            limits_ = generation_->config->limits;
        }
    }

    void on_first_bytes(error_code ec, std::size_t n)
    {
        waiting_idle_ = false;
        disarm();
        if (ec) {
            do_close();  // idle timeout, EOF between requests, drain: nothing to answer
            return;
        }
        client_buffer_.commit(n);
        do_read_header();
    }

    void do_read_header()
    {
        request_parser_.emplace();
        request_parser_->header_limit(static_cast<std::uint32_t>(
            std::min<std::size_t>(limits_.header_bytes, std::numeric_limits<std::uint32_t>::max())));
        // The body is streamed 16 KiB at a time, never held whole: no body limit is needed here.
        request_parser_->body_limit(no_body_limit);
        arm(limits_.header_timeout, side::client);
        do_read_header_block();
    }

    // Collects the raw header block before Beast parses it, for the one rule Beast cannot check
    // afterwards: obs-fold (RFC 9112 §5.2), which Beast 1.81 unfolds silently.
    void do_read_header_block()
    {
        const auto bytes = client_buffer_.data();
        const std::string_view data(static_cast<const char*>(bytes.data()), bytes.size());
        if (const auto end = data.find("\r\n\r\n"); end != std::string_view::npos) {
            if (has_obs_fold(data.substr(0, end + 2))) {
                disarm();
                started_ = std::chrono::steady_clock::now();
                record_.time = std::chrono::system_clock::now();
                send_error(400, "bad request", "obs-fold in the request header");
                return;
            }
            // The whole header is buffered: parse it here (Beast's read would find it there too,
            // but complete through a post). The parser stops at the header's end.
            error_code ec;
            client_buffer_.consume(request_parser_->put(client_buffer_.data(), ec));
            if (ec == http::error::need_more || (!ec && !request_parser_->is_header_done())) {
                // Not expected of a block that ends in CRLF CRLF; Beast's read then goes on.
                http::async_read_header(client_, client_buffer_, *request_parser_,
                                        [self = shared_from_this()](error_code ec, std::size_t) { self->on_read_header(ec); });
                return;
            }
            on_read_header(ec);
            return;
        }
        if (client_buffer_.size() >= limits_.header_bytes) {
            on_read_header(http::error::header_limit);
            return;
        }
        client_.async_read_some(client_buffer_.prepare(4096), [self = shared_from_this()](error_code ec, std::size_t n) {
            self->client_buffer_.commit(n);
            if (ec) {
                self->on_read_header(ec);
                return;
            }
            self->do_read_header_block();
        });
    }

    void on_read_header(error_code ec)
    {
        disarm();
        started_ = std::chrono::steady_clock::now();
        record_.time = std::chrono::system_clock::now();
        if (ec) {
            if (client_timed_out_) {
                // RFC 9110 §15.5.9: the header did not arrive in time. The socket is closed.
                spdlog::debug("{}: request header timed out", client_text_);
                do_close();
                return;
            }
            if (ec == http::error::header_limit) {
                send_error(431, "request header too large", ec.message());  // RFC 6585 §5
                return;
            }
            if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::ssl::error::stream_truncated) {
                do_close();
                return;
            }
            // RFC 9112 §2.2, §5: malformed request line or field (NUL, bare CR, bad chunk size...).
            send_error(400, "bad request", ec.message());
            return;
        }
        const auto& request = request_parser_->get();
        record_.method = to_text(request.method_string());
        record_.path = to_text(request.target());
        record_.host = to_text(request[http::field::host]);
        client_keep_alive_ = request.keep_alive();
        if (auto problem = check_request(request.base())) {
            send_error(problem->status, problem->text, problem->text);
            return;
        }
        websocket_ = is_websocket_upgrade(request.base());
        // Route on SNI, Host and path (DESIGN §3, first match wins).
        routing::request_key key;
        if (!sni_.empty()) {
            key.sni = sni_;
        }
        key.host = std::string_view(record_.host);
        key.path = std::string_view(record_.path);
        const auto* target = listener_->routes.match(key);
        if (target == nullptr) {
            send_error(404, "no route", "no route for host " + record_.host);
            return;
        }
        route_ = target->route_index;
        upstream_rt_ = generation_->upstreams.at(target->upstream_index).get();
        endpoint_ = upstream_rt_->endpoints.pick(std::chrono::steady_clock::now());
        if (!endpoint_) {
            send_error(503, "no healthy upstream endpoint", "upstream " + upstream_rt_->config.name + " has no endpoint");
            return;
        }
        record_.upstream = endpoint_->host() + ":" + std::to_string(endpoint_->port());
        do_connect_upstream();
    }

    // ---- upstream -----------------------------------------------------------------------------

    void do_connect_upstream()
    {
        // A retry is on a fresh connection: the pooled one just failed, its siblings may too.
        auto target = upstream_rt_->target(*endpoint_, !retried_);
        state_->connector->async_connect(client_.get_executor(), std::move(target),
                                         [self = shared_from_this()](connect_result result) {
                                             self->on_connect_upstream(std::move(result));
                                         });
    }

    void on_connect_upstream(connect_result result)
    {
        record_.dane = std::string(dane::to_string(result.verdict.outcome));
        if (result.ec) {
            upstream_rt_->endpoints.record_failure(*endpoint_, std::chrono::steady_clock::now());
            spdlog::warn("upstream {} rejected for {} {}: {}: {}", record_.upstream, record_.method, record_.path,
                         record_.dane, result.verdict.detail);
            // DESIGN §4: a timeout is 504, DANE/TLS failures and refused connections 502.
            const bool timeout = result.ec == errc::connect_timeout;
            send_error(timeout ? 504 : 502, timeout ? "upstream timed out" : "upstream not authenticated: " + record_.dane,
                       result.verdict.detail);
            return;
        }
        upstream_ = std::move(result.connection);
        // Only the access log reads these two (error paths name the endpoint, set above).
        if (state_->access->enabled()) {
            if (result.verdict.matched) {
                record_.matched = result.verdict.matched->to_string();
            }
            record_.upstream = endpoint_->host() + ":" + std::to_string(endpoint_->port()) + " (" +
                               upstream_->endpoint.address().to_string() + ")";
        }
        do_write_request_header();
    }

    void do_write_request_header()
    {
        const auto& in = request_parser_->get();
        // Framing is ours to decide (RFC 9112 §6): re-framed from what the parser saw.
        upstream_request_options options;
        options.client_address = client_ip_;
        options.host = record_.host;
        options.websocket = websocket_;
        options.chunked = request_parser_->chunked();
        if (const auto length = request_parser_->content_length(); length && !options.chunked) {
            options.content_length = *length;
        }
        render_upstream_request(in, options, upstream_out_);
        // Keep-alive upstream (HTTP/1.1's default): the connection goes back to the pool after a
        // complete exchange.
        if (request_parser_->is_done()) {
            // No body (most requests): the header, and a chunked request's last chunk, in one write.
            if (options.chunked) {
                append_last_chunk(upstream_out_);
            }
            // Written after the handlers already queued (other sessions' requests, mostly), not at
            // once: a burst of requests then reaches the upstream together and wakes it once.
            // Measured (keepalive): at once, the proxy woke the upstream 0.23 times per request
            // instead of 0.06, and spent ~5 µs more system time per request doing it.
            net::post(client_.get_executor(), [self = shared_from_this()] {
                self->write_then(self->upstream_->stream, net::buffer(self->upstream_out_),
                                 self->upstream_rt_->config.timeouts.response, side::upstream,
                                 [raw = self.get()](error_code ec) { raw->on_request_sent(ec); });
            });
            return;
        }
        write_then(upstream_->stream, net::buffer(upstream_out_), upstream_rt_->config.timeouts.response,
                   side::upstream, [this](error_code ec) { on_write_request_header(ec); });
    }

    void on_write_request_header(error_code ec)
    {
        if (ec) {
            upstream_failed(stage::request_header, ec);
            return;
        }
        const auto& in = request_parser_->get();
        // RFC 9110 §15.2: never a 1xx to an HTTP/1.0 client; it just sends its body.
        if (in.count(http::field::expect) > 0 && in.version() == 11 && !request_parser_->is_done()) {
            arm(limits_.idle_timeout, side::client);
            net::async_write(client_, net::buffer(continue_line_),
                             [self = shared_from_this()](error_code ec, std::size_t) {
                                 self->disarm();
                                 if (ec) {
                                     self->do_close();
                                     return;
                                 }
                                 self->do_relay_request_body();
                             });
            return;
        }
        do_relay_request_body();
    }

    void do_relay_request_body()
    {
        if (request_parser_->is_done()) {
            if (!request_parser_->chunked()) {
                on_request_sent({});
                return;
            }
            upstream_out_.clear();
            append_last_chunk(upstream_out_);
            write_then(upstream_->stream, net::buffer(upstream_out_), upstream_rt_->config.timeouts.response,
                       side::upstream, [this](error_code ec) { on_request_sent(ec); });
            return;
        }
        auto& body = request_parser_->get().body();
        body.data = buffer_.data();
        body.size = buffer_.size();
        arm(limits_.idle_timeout, side::client);
        reserve_for_body(client_buffer_);
        http::async_read_some(client_, client_buffer_, *request_parser_,
                              [self = shared_from_this()](error_code ec, std::size_t) { self->on_read_request_body(ec); });
    }

    void on_read_request_body(error_code ec)
    {
        disarm();
        if (ec == http::error::need_buffer) {
            ec = {};  // the buffer is full: relay it
        }
        if (ec && ec.category() == http::make_error_code(http::error::bad_chunk).category() && !client_timed_out_) {
            // RFC 9112 §7.1: an invalid chunk size or a body parse error is 400; the upstream,
            // which has seen only part of the request, is cut off and never gets a framed end.
            send_error(400, "bad request body", ec.message());
            return;
        }
        if (ec) {
            // Too late for a clean answer to a half-sent body: drop both ends (RFC 9112 §9.6).
            spdlog::debug("{}: reading the request body failed: {}", client_text_, ec.message());
            record_.status = 400;
            record_.detail = "request body: " + ec.message();
            finish_exchange(false);
            return;
        }
        const std::size_t got = buffer_.size() - request_parser_->get().body().size;
        record_.bytes_in += got;
        if (got == 0) {
            do_relay_request_body();
            return;
        }
        upstream_out_.clear();
        if (request_parser_->chunked()) {
            append_chunk(upstream_out_, buffer_.data(), got);
        } else {
            upstream_out_.append(buffer_.data(), got);
        }
        write_then(upstream_->stream, net::buffer(upstream_out_), upstream_rt_->config.timeouts.response,
                   side::upstream, [this](error_code ec) { on_write_request_body(ec); });
    }

    void on_write_request_body(error_code ec)
    {
        if (ec) {
            upstream_failed(stage::request_body, ec);
            return;
        }
        do_relay_request_body();
    }

    void on_request_sent(error_code ec)
    {
        disarm();
        if (ec) {
            upstream_failed(record_.bytes_in == 0 ? stage::request_header : stage::request_body, ec);
            return;
        }
        request_sent_ = true;
        // The upstream needs a moment to answer: read at once, the read would mostly find nothing
        // (a failed recv, then an epoll_ctl to wait). After the handlers already queued, the
        // answer has usually arrived.
        net::post(client_.get_executor(), [self = shared_from_this()] { self->do_read_response_header(); });
    }

    // ---- response -----------------------------------------------------------------------------

    void do_read_response_header()
    {
        response_parser_.emplace();
        body_error_ = {};
        response_parser_->header_limit(static_cast<std::uint32_t>(
            std::min<std::size_t>(limits_.header_bytes, std::numeric_limits<std::uint32_t>::max())));
        response_parser_->body_limit(no_body_limit);
        // RFC 9110 §9.3.2: a response to HEAD has no content, whatever its framing fields say.
        if (request_parser_->get().method() == http::verb::head) {
            response_parser_->skip(true);
        }
        arm(upstream_rt_->config.timeouts.response, side::upstream);
        // Room for a whole TLS record: an upstream's first record is often its header and as much
        // body as fits, and Beast's first read would otherwise take only 512 bytes of it. The
        // client's first piece then carries the header and all that body (send_response_piece).
        reserve_for_body(upstream_buffer_);
        parse_response_header();
    }

    /** Parses what is buffered of the response header; reads more while it is incomplete. */
    void parse_response_header()
    {
        error_code ec = http::error::need_more;
        if (upstream_buffer_.size() > 0) {
            ec = {};
            upstream_buffer_.consume(response_parser_->put(upstream_buffer_.data(), ec));
        }
        if (ec == http::error::need_more) {
            read_upstream(&http_session::on_response_header_bytes);
            return;
        }
        on_read_response_header(ec);
    }

    void on_response_header_bytes(error_code ec)
    {
        if (ec) {
            on_read_response_header(ec);
            return;
        }
        parse_response_header();
    }

    /**
     * Reads the upstream's next bytes into upstream_buffer_, then calls @p next. This is the read
     * Beast's async_read_header and async_read_some would make, without their two composed
     * operations around it (each keeps, copies and destroys the executor: 25 executor copies per
     * response header; 1,350 instructions per keep-alive request, by callgrind). The parsing
     * stays with the caller, and the end of the stream means what it means to Beast: the end of
     * a body delimited by the close (put_eof), else end_of_stream, or partial_message within a
     * message.
     */
    void read_upstream(void (http_session::*next)(error_code))
    {
        const std::size_t size = upstream_buffer_.size();
        const std::size_t room = std::min(std::max<std::size_t>(512, upstream_buffer_.capacity() - size),
                                          upstream_buffer_.max_size() - size);
        if (room == 0) {
            (this->*next)(http::error::buffer_overflow);
            return;
        }
        upstream_->stream.async_read_some(
            upstream_buffer_.prepare(room),
            on_strand([self = shared_from_this(), next](error_code ec, std::size_t n) {
                self->upstream_buffer_.commit(n);
                if (ec == net::error::eof) {
                    ec = {};
                    if (self->response_parser_->got_some()) {
                        self->response_parser_->put_eof(ec);
                    } else {
                        ec = http::error::end_of_stream;
                    }
                }
                ((*self).*next)(ec);
            }));
    }

    void on_read_response_header(error_code ec)
    {
        disarm();
        if (ec) {
            upstream_failed(stage::response_header, ec);
            return;
        }
        const auto& in = response_parser_->get();
        // RFC 9110 §15.2: interim responses. We sent no Expect upstream and answered the
        // client's 100-continue ourselves, so 100 and 103 are dropped and the final one awaited.
        if (in.result_int() >= 100 && in.result_int() < 200 && in.result() != http::status::switching_protocols) {
            // Bounded: an upstream sending endless 103s would otherwise hold both legs open.
            if (++interim_responses_ > max_interim_responses) {
                upstream_rt_->endpoints.record_failure(*endpoint_, std::chrono::steady_clock::now());
                send_error(502, "invalid upstream response", "too many interim (1xx) responses");
                return;
            }
            do_read_response_header();
            return;
        }
        if (websocket_ && in.result() == http::status::switching_protocols) {
            const auto key = request_parser_->get()[http::field::sec_websocket_key];
            if (auto problem = check_websocket_accept(in.base(), {key.data(), key.size()})) {
                upstream_rt_->endpoints.record_failure(*endpoint_, std::chrono::steady_clock::now());
                spdlog::warn("upstream {} answered a WebSocket handshake wrongly: {}", record_.upstream, *problem);
                send_error(502, "invalid upstream response", *problem);
                return;
            }
            upstream_rt_->endpoints.record_success(*endpoint_, std::chrono::steady_clock::now());
            do_open_tunnel();
            return;
        }
        if (auto problem = check_response(in.base())) {
            // DESIGN §4: an invalid or ambiguous response is 502, never relayed.
            upstream_rt_->endpoints.record_failure(*endpoint_, std::chrono::steady_clock::now());
            spdlog::warn("upstream {} sent an invalid response: {}", record_.upstream, *problem);
            send_error(502, "invalid upstream response", *problem);
            return;
        }
        upstream_rt_->endpoints.record_success(*endpoint_, std::chrono::steady_clock::now());

        const unsigned status = in.result_int();
        // The parser's answer, not the message's: a body that ends with the connection (no length,
        // not chunked) leaves it unusable whatever its Connection field says (RFC 9112 §6.3 (8)).
        upstream_keep_alive_ = response_parser_->keep_alive();
        const bool head = request_parser_->get().method() == http::verb::head;
        const bool bodiless = head || status == 204 || status == 304;
        const auto length = response_parser_->content_length();
        client_response_options options;
        options.keep_alive = client_keep_alive_ && !state_->draining.load();
        if (bodiless) {
            // RFC 9110 §8.6: HEAD and 304 may carry the Content-Length of the representation.
            if (length && status != 204) {
                options.content_length = *length;
            }
        } else if (length) {
            options.content_length = *length;
        } else if (request_parser_->get().version() == 11) {
            options.chunked = true;  // chunked or close-delimited upstream: chunk it for the client
        } else {
            // RFC 9112 §6.1: no chunked coding to an HTTP/1.0 client: the body ends when we close
            // (RFC 9112 §6.3 (8)).
            options.keep_alive = false;
        }
        client_keep_alive_ = options.keep_alive;
        record_.status = status;
        response_chunked_ = options.chunked;
        // Rendered now, before any body is parsed: a chunked body's trailers would be added to
        // the parser's fields, and they are not relayed.
        render_client_response(in, options, client_out_);
        response_head_sent_ = false;
        responded_ = true;
        relay_response_chunk();
    }

    // The response goes out in pieces of about one chunk (16 KiB) of body at most: the header
    // with the body bytes that came with it, then what each read from the upstream brought. Each
    // piece is one write, and the upstream is read only when no buffered bytes are left.
    void relay_response_chunk()
    {
        error_code ec;
        const std::string_view piece = take_buffered_piece(*response_parser_, upstream_buffer_, body_chunk, ec);
        if (ec && piece.empty()) {
            on_read_response_body(ec);
            return;
        }
        body_error_ = ec;  // the valid piece before it goes first
        if (!piece.empty() || response_parser_->is_done() || !response_head_sent_) {
            send_response_piece(piece);  // a header is sent at once, even before any body arrives
            return;
        }
        arm(upstream_rt_->config.timeouts.response, side::upstream);
        reserve_for_body(upstream_buffer_);
        read_upstream(&http_session::on_read_response_body);
    }

    void on_read_response_body(error_code ec)
    {
        disarm();
        if (ec) {
            // The client already has the header: all we can do is cut the connection, so the
            // missing final chunk or short Content-Length shows the truncation (RFC 9112 §8).
            spdlog::warn("upstream {}: response body: {}", record_.upstream,
                         upstream_timed_out_ ? "timed out" : ec.message());
            record_.detail = "response body: " + (upstream_timed_out_ ? std::string("timed out") : ec.message());
            finish_exchange(false);
            return;
        }
        relay_response_chunk();  // parses what came, into the next piece
    }

    /**
     * Writes, in one piece, the header if not yet written, @p piece and the pieces buffered after
     * it, up to body_chunk bytes of body (each framed as a chunk when the client's body is
     * chunked), and the body's end when it is there. A piece with nothing to go around it (an
     * unchunked body after the header, with nothing buffered behind it: what one read brought) is
     * written from where it lies, in upstream_buffer_. Else the pieces are copied next to the
     * header or the framing: one write, so one TLS record and one system call, costs less than the
     * copy of at most one 16 KiB chunk, and an upstream's small chunks do not become a write each.
     */
    void send_response_piece(std::string_view piece)
    {
        const bool piece_alone = response_head_sent_ && !response_chunked_ &&
                                 (upstream_buffer_.size() == 0 || response_parser_->is_done());
        if (piece_alone) {
            record_.bytes_out += piece.size();
            write_then(client_, net::buffer(piece.data(), piece.size()), limits_.idle_timeout, side::client,
                       [this](error_code ec) { on_response_piece_sent(ec); });
            return;
        }
        if (response_head_sent_) {
            client_out_.clear();  // else it holds the head (on_read_response_header)
        }
        response_head_sent_ = true;
        for (std::size_t gathered = 0;;) {
            record_.bytes_out += piece.size();
            gathered += piece.size();
            if (!response_chunked_) {
                client_out_.append(piece);
            } else if (!piece.empty()) {
                append_chunk(client_out_, piece.data(), piece.size());
            }
            // An invalid body goes as far as it was valid, then fails (on_response_piece_sent).
            if (body_error_ || gathered >= body_chunk || response_parser_->is_done() || upstream_buffer_.size() == 0) {
                break;
            }
            piece = take_buffered_piece(*response_parser_, upstream_buffer_, body_chunk - gathered, body_error_);
            if (piece.empty()) {
                break;  // the rest of a chunk header, still to be read, or the body went bad here
            }
        }
        if (response_chunked_ && response_parser_->is_done()) {
            append_last_chunk(client_out_);
        }
        write_then(client_, net::buffer(client_out_), limits_.idle_timeout, side::client,
                   [this](error_code ec) { on_response_piece_sent(ec); });
    }

    void on_response_piece_sent(error_code ec)
    {
        if (ec) {
            record_.detail = "writing the response: " + ec.message();
            finish_exchange(false);
            return;
        }
        if (body_error_) {
            on_read_response_body(std::exchange(body_error_, {}));
            return;
        }
        // Nothing reads the upstream while a piece is written: the parser still says whether
        // that piece ended the response.
        if (response_parser_->is_done()) {
            on_response_sent(ec);
            return;
        }
        relay_response_chunk();
    }

    void on_response_sent(error_code ec)
    {
        disarm();
        if (ec) {
            record_.detail = "writing the response: " + ec.message();
        }
        // The upstream leg is reusable when both messages were complete, it asked for nothing
        // else (Connection: close, a close-delimited body) and sent nothing more.
        upstream_reusable_ = request_sent_ && response_parser_ && response_parser_->is_done() &&
                             upstream_keep_alive_ && upstream_buffer_.size() == 0 &&
                             !upstream_timed_out_;
        finish_exchange(!ec && client_keep_alive_);
    }

    // ---- WebSocket tunnel (DESIGN §4) ------------------------------------------------------------

    void do_open_tunnel()
    {
        const auto& in = response_parser_->get();
        tunnel_response_.emplace();
        auto& out = *tunnel_response_;
        out.result(http::status::switching_protocols);
        out.reason(in.reason());
        out.version(11);
        for (const auto& field : in.base()) {
            out.insert(field.name_string(), field.value());
        }
        remove_hop_by_hop(out.base());
        out.set(http::field::connection, "Upgrade");
        out.set(http::field::upgrade, "websocket");
        append_via(out.base(), in.version());
        record_.status = 101;
        responded_ = true;
        arm(limits_.idle_timeout, side::client);
        http::async_write(client_, out, [self = shared_from_this()](error_code ec, std::size_t) {
            self->on_tunnel_response_sent(ec);
        });
    }

    void on_tunnel_response_sent(error_code ec)
    {
        disarm();
        if (ec) {
            record_.detail = "writing the 101: " + ec.message();
            finish_exchange(false);
            return;
        }
        // Bytes that came behind either handshake belong to the tunnel: they go first.
        auto take = [](session_buffer& buffer) {
            const auto data = buffer.data();
            std::string bytes(static_cast<const char*>(data.data()), data.size());
            buffer.consume(buffer.size());
            return bytes;
        };
        start_byte_relay(client_.get_executor(), shared_from_this(), client_, upstream_->stream, take(client_buffer_),
                         take(upstream_buffer_), limits_.idle_timeout,
                         [self = shared_from_this()](relay_result result) { self->on_tunnel_closed(std::move(result)); });
    }

    void on_tunnel_closed(relay_result result)
    {
        record_.bytes_in += result.bytes_to_upstream;
        record_.bytes_out += result.bytes_to_client;
        record_.detail = result.detail;
        // The relay already ended both directions (close_notify or shutdown): no TLS shutdown
        // of our own follows, the sockets just close.
        error_code ignored;
        client_.lowest_layer().close(ignored);
        finish_exchange(false);
    }

    // ---- endings ------------------------------------------------------------------------------

    /** Where an exchange with an authenticated upstream failed. */
    enum class stage { request_header, request_body, response_header };

    static const char* describe(stage where) noexcept
    {
        switch (where) {
        case stage::request_header: return "writing the request";
        case stage::request_body: return "writing the request body";
        case stage::response_header: return "reading the response";
        }
        return "exchanging with the upstream";
    }

    /**
     * Whether the request cannot have reached the upstream, so that sending it again is safe: a
     * pooled connection the upstream closed while it was idle (the keep-alive race of RFC 9112
     * §9.3.1). Not when a byte of the request body was consumed (it cannot be replayed), nor when
     * a response started; after the whole request was written only idempotent methods
     * (RFC 9110 §9.2.2), because the upstream may have acted on it.
     */
    bool may_retry(stage where, error_code ec) const
    {
        if (!upstream_ || !upstream_->from_pool || retried_ || responded_ || upstream_timed_out_ ||
            record_.bytes_in != 0 || interim_responses_ != 0) {
            return false;
        }
        if (where == stage::request_header) {
            return true;
        }
        const bool closed_before_answering =
            where == stage::response_header && upstream_buffer_.size() == 0 &&
            (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
             ec == net::ssl::error::stream_truncated);
        if (!closed_before_answering) {
            return false;
        }
        const auto method = request_parser_->get().method();
        return method == http::verb::get || method == http::verb::head || method == http::verb::options ||
               method == http::verb::trace || method == http::verb::put || method == http::verb::delete_;
    }

    /** The upstream failed after it was authenticated. Before the response started: 502/504. */
    void upstream_failed(stage where, error_code ec)
    {
        const std::string detail =
            std::string(describe(where)) + ": " + (upstream_timed_out_ ? "timed out" : ec.message());
        if (may_retry(where, ec)) {
            // Not the endpoint's fault: an idle connection went away. Once, on a fresh one.
            spdlog::debug("upstream {}: pooled connection failed ({}); retrying on a new one", record_.upstream, detail);
            retried_ = true;
            close_upstream();
            upstream_buffer_.clear();
            response_parser_.reset();
            do_connect_upstream();
            return;
        }
        upstream_rt_->endpoints.record_failure(*endpoint_, std::chrono::steady_clock::now());
        spdlog::warn("upstream {}: {}", record_.upstream, detail);
        if (responded_) {
            record_.detail = detail;
            finish_exchange(false);
            return;
        }
        send_error(upstream_timed_out_ ? 504 : 502, upstream_timed_out_ ? "upstream timed out" : "bad gateway", detail);
    }

    /** Answers with a short text/plain body and closes the connection afterwards. */
    void send_error(unsigned status, const std::string& text, const std::string& detail)
    {
        close_upstream();
        record_.status = status;
        record_.detail = detail;
        error_response_.emplace();
        auto& out = *error_response_;
        out.result(status);
        out.version(11);
        out.set(http::field::content_type, "text/plain; charset=utf-8");
        append_via(out.base(), 11);
        out.body() = text + "\n";
        // After an error the rest of the connection cannot be trusted to be framed correctly.
        out.keep_alive(false);
        linger_on_close_ = true;
        out.prepare_payload();
        if (request_parser_ && request_parser_->is_header_done() && request_parser_->get().method() == http::verb::head) {
            out.body().clear();  // RFC 9110 §9.3.2: the Content-Length stays, the content does not
        }
        record_.bytes_out = out.body().size();
        responded_ = true;
        arm(limits_.idle_timeout, side::client);
        http::async_write(client_, out, [self = shared_from_this()](error_code ec, std::size_t) {
            self->disarm();
            if (ec) {
                self->record_.detail += "; writing the error: " + ec.message();
            }
            self->finish_exchange(false);
        });
    }

    void finish_exchange(bool keep_alive)
    {
        if (upstream_reusable_ && upstream_) {
            upstream_rt_->pool.release(std::move(upstream_), std::chrono::steady_clock::now());
        }
        close_upstream();
        record_.client = client_text_;
        record_.sni = sni_;
        record_.duration = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_);
        state_->report(record_, listener_->config.name, route_, request_counter_);
        if (keep_alive) {
            do_wait_request();
        } else {
            do_close();
        }
    }

    void reset_request()
    {
        record_ = access_record{};
        route_.reset();
        interim_responses_ = 0;
        request_parser_.reset();
        response_parser_.reset();
        error_response_.reset();
        upstream_buffer_.clear();
        endpoint_.reset();
        upstream_rt_ = nullptr;
        responded_ = false;
        upstream_timed_out_ = false;
        retried_ = false;
        request_sent_ = false;
        upstream_reusable_ = false;
        upstream_keep_alive_ = false;
        websocket_ = false;
        tunnel_response_.reset();
    }

    void close_upstream()
    {
        if (upstream_) {
            // No close_notify: the exchange is complete or abandoned, and waiting for the
            // upstream's reply would only hold the socket (RFC 8446 §6.1 allows it).
            error_code ignored;
            upstream_->stream.lowest_layer().close(ignored);
            upstream_.reset();
        }
    }

    /**
     * The last step of every way the session ends: nothing can be pending after it, so the lazy
     * timer's wait is cancelled too (it holds the session, which would otherwise live, counted
     * as an open connection, until that wait expired).
     */
    void close_client()
    {
        error_code ignored;
        client_.lowest_layer().close(ignored);
        deadline_.cancel();
    }

    /**
     * Ends the connection: close_notify (RFC 8446 §6.1) first, always. Then, as nginx does, the
     * socket closes at once without waiting for the client's close_notify, which RFC 8446 §6.1
     * does not require: with nothing unread, closing sends a FIN after the response and the
     * client keeps every byte. When the client may still be sending (an error answer cut its
     * request short, or bytes it sent wait unread), closing would make the kernel send a reset
     * that can destroy the response before the client has read it (RFC 9112 §9.6), so the
     * connection lingers instead (do_linger).
     */
    void do_close()
    {
        close_upstream();
        if (!client_.lowest_layer().is_open()) {
            deadline_.cancel();  // closed by a deadline or an error: the session ends now
            return;
        }
        if (closing_) {
            return;
        }
        closing_ = true;
        close_alert_.clear();
        take_close_notify(client_.native_handle(), close_alert_);  // none after a fatal TLS error
        const bool linger = linger_on_close_ || client_buffer_.size() > 0 || client_.input_waiting();
        std::size_t sent = 0;
        if (!linger) {
            error_code ec;
            sent = client_.try_send_record(net::buffer(close_alert_), ec);
            if (sent == close_alert_.size() || (ec && ec != net::error::would_block)) {
                close_client();
                return;
            }
            // The socket is full (a large response still on its way): finish in the background.
        }
        do_linger(sent);
    }

    /**
     * RFC 9112 §9.6: write the rest of the close_notify from @p sent on, end our direction (FIN),
     * and read and discard what still comes until the client closes, for a bounded time, before
     * closing.
     */
    void do_linger(std::size_t sent)
    {
        arm(std::min<conf::duration>(limits_.idle_timeout, std::chrono::seconds(5)), side::client);
        net::async_write(client_.next_layer(), net::buffer(close_alert_) + sent,
                         [self = shared_from_this()](error_code ec, std::size_t) {
                             error_code ignored;
                             self->client_.next_layer().shutdown(tcp::socket::shutdown_send, ignored);
                             if (ec) {
                                 self->close_client();
                                 return;
                             }
                             self->do_discard_input();
                         });
    }

    void do_discard_input()
    {
        // Raw TCP bytes: nothing of them will be read as TLS again, so there is no point in
        // decrypting them.
        client_.next_layer().async_read_some(net::buffer(buffer_), [self = shared_from_this()](error_code ec, std::size_t) {
            if (ec) {  // the client's FIN, a reset, or the deadline closed the socket
                self->close_client();
                return;
            }
            self->do_discard_input();
        });
    }

    void on_drain()
    {
        // Idle keep-alive connections close at once; busy ones finish their exchange and then
        // see `draining` (DESIGN §2: drain in-flight requests).
        if (waiting_idle_) {
            error_code ignored;
            client_.lowest_layer().cancel(ignored);
        }
    }

    std::shared_ptr<proxy_state> state_;
    std::shared_ptr<const generation> generation_;  // the configuration this session serves under
    std::shared_ptr<const listener_runtime> listener_;  // from generation_
    conf::limits_config limits_;                        // generation_'s limits
    tls_stream client_;
    net::steady_timer deadline_;
    static constexpr auto no_deadline = std::chrono::steady_clock::time_point::max();
    std::chrono::steady_clock::time_point deadline_at_ = no_deadline;  // of the pending operation
    side deadline_side_ = side::client;  // which leg the pending operation is on
    bool timer_waiting_ = false;         // deadline_ has a wait pending
    unsigned deadline_wait_ = 0;         // the wait whose completion counts
    connection_tracker::entry tracked_;  // in state_->connections while this session lives

    std::string client_ip_;
    std::string client_text_;
    std::string sni_;

    session_buffer client_buffer_;
    session_buffer upstream_buffer_;
    // Left uninitialized on purpose: it is always written before it is read, and zeroing 16 KiB
    // per connection cost ~16,000 instructions per handshake (callgrind) and made every page of
    // it resident even on connections that never carry a body.
    std::array<char, body_chunk> buffer_;
    std::string client_out_;    // one piece of the response, framed (header, chunk, end)
    std::string upstream_out_;  // the request's head (with a bodiless request's end), or a body piece
    const std::string continue_line_ = "HTTP/1.1 100 Continue\r\n\r\n";

    std::optional<http::request_parser<http::buffer_body>> request_parser_;
    std::optional<http::response_parser<view_body>> response_parser_;
    std::optional<http::response<http::string_body>> error_response_;
    std::optional<http::response<http::empty_body>> tunnel_response_;

    upstream_runtime* upstream_rt_ = nullptr;
    std::optional<routing::endpoint_ref> endpoint_;
    std::unique_ptr<upstream_connection> upstream_;

    access_record record_;
    std::optional<std::size_t> route_;  // the matched route's number (metrics)
    request_counter request_counter_;   // the metrics series of the last request
    std::chrono::steady_clock::time_point started_{};
    bool client_keep_alive_ = false;
    unsigned interim_responses_ = 0;
    bool responded_ = false;
    bool waiting_idle_ = false;
    bool closing_ = false;
    bool client_timed_out_ = false;
    bool upstream_timed_out_ = false;
    bool retried_ = false;            // this request already moved to a fresh upstream connection
    bool request_sent_ = false;       // the whole request reached the upstream's socket
    bool upstream_reusable_ = false;  // the exchange ended cleanly: the connection may be pooled
    bool upstream_keep_alive_ = false;  // the upstream's response allows another request (read before its header moved)
    bool response_chunked_ = false;     // the client's response body goes in chunks
    bool response_head_sent_ = false;   // the response's head went out with an earlier piece
    error_code body_error_;             // the response body went bad after the piece being written
    bool websocket_ = false;          // the request is a WebSocket handshake (check_request accepted it)
    bool linger_on_close_ = false;    // an error answer was sent: do_close() lingers
    std::string close_alert_;         // the close_notify record do_close() sends
};

}  // namespace

void start_http_session(tcp::socket&& socket, const tcp::endpoint& peer, std::shared_ptr<proxy_state> state,
                        std::shared_ptr<const generation> generation, std::shared_ptr<const listener_runtime> listener)
{
    std::make_shared<http_session>(std::move(socket), peer, std::move(state), std::move(generation), std::move(listener))->start();
}

}  // namespace danegate::proxy
