// danegate_http_test_backend --listen ADDR:PORT --cert PEM --key PEM [--record FILE] [--name NAME]
//
// The HTTPS/1.1 upstream for end-to-end proxy tests (issue #3 §4): a self-signed TLS server on
// Beast that tells a test what reached it. One thread, asynchronous, many keep-alive connections.
//
//   ANY  /echo...        200 JSON: backend, method, target, headers, body_bytes, body_sha256,
//                        connection_id, requests_on_connection, tls_resumed, key (HEAD: header only)
//   GET  /bytes/N        N bytes, byte i = i % 251, Content-Length, written from a fixed buffer
//   GET  /chunked/N      the same bytes, Transfer-Encoding: chunked, 8 KiB chunks
//   GET  /slow/MS        waits MS milliseconds, then 200 "slow"
//   GET  /status/CODE    that status with a short body, for CODE 200..599 (else 400)
//   GET  /drop-next      200; the next request on this connection is read, recorded and answered
//                        by closing the connection (the keep-alive race, made deterministic)
//   GET  /stats          JSON: connections, active_connections, requests, tls_handshakes,
//                        tls_resumptions
//   GET  /raw/NAME       a canned response written byte for byte, each piece its own TLS record
//                        20 ms after the last (canned_response below): framings and faults that
//                        no well-behaved server library writes, for the proxy's response parsing
//   WebSocket on /ws     echoes every message (text or binary) back
//
// Request bodies are always read through a fixed 64 KiB buffer and hashed as they stream by, never
// kept whole, so an upload of any size costs constant memory. Limits: 64 KiB of header (431 and
// close beyond), 30 s idle on every read and write. `Expect: 100-continue` gets a 100 first.
//
// --record FILE gets one line per request header received, flushed at once so that a test can
// assert that nothing reached the backend:  <connection_id> <METHOD> <target>
//
// TLS: the server-side session cache and session tickets are on, so resumption is observable
// (per connection in /echo, in total in /stats). ALPN "http/1.1" is selected when offered.
// --next-cert/--next-key: SIGUSR1 makes new handshakes use that certificate (a key rollover);
// /echo's "key" says which one ("first" or "next") the connection's handshake used.
// SIGTERM or SIGINT stops the server cleanly (exit status 0).
//
// Beast's implementation comes from http_test_backend_beast_impl.cpp and Asio's from
// danegate_dane (dane/asio_impl.cpp): BOOST_{ASIO,BEAST}_SEPARATE_COMPILATION are project-wide.
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr auto idle_timeout = 30s;
constexpr std::uint32_t header_limit = 64 * 1024;
constexpr std::size_t io_buffer_size = 64 * 1024;  // request body reads, /bytes writes
constexpr std::size_t chunk_size = 8 * 1024;       // /chunked writes: one chunk per buffer
constexpr int pattern_modulus = 251;               // a prime, so the pattern never lines up with buffers

/** What /stats reports, the backend's name and the record file; one per process. */
struct backend_state {
    std::string name;
    std::FILE* record = nullptr;  // null: not recording
    std::uint64_t connections = 0;
    std::uint64_t active_connections = 0;
    std::uint64_t requests = 0;
    std::uint64_t tls_handshakes = 0;
    std::uint64_t tls_resumptions = 0;

    void record_request(std::uint64_t connection_id, std::string_view method, std::string_view target)
    {
        if (record == nullptr) {
            return;
        }
        std::fprintf(record, "%llu %.*s %.*s\n", static_cast<unsigned long long>(connection_id),
                     static_cast<int>(method.size()), method.data(), static_cast<int>(target.size()),
                     target.data());
        std::fflush(record);
    }
};

/** Keeps the active-connection count right whichever session type ends the connection. */
class connection_counter {
public:
    explicit connection_counter(backend_state& state) : state_(&state) { ++state_->active_connections; }
    ~connection_counter()
    {
        if (state_ != nullptr) {
            --state_->active_connections;
        }
    }
    connection_counter(connection_counter&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    connection_counter(const connection_counter&) = delete;
    connection_counter& operator=(const connection_counter&) = delete;
    connection_counter& operator=(connection_counter&&) = delete;

private:
    backend_state* state_;
};

std::string json_escape(std::string_view text)
{
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (const char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                std::array<char, 8> escaped{};
                std::snprintf(escaped.data(), escaped.size(), "\\u%04x", static_cast<unsigned>(c));
                out += escaped.data();
            } else {
                // Bytes >= 0x80 pass through: header values are ASCII in practice, and a test that
                // sends anything else wants to see it unchanged.
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

/** Streaming SHA-256 over a request body. */
class sha256 {
public:
    sha256() : ctx_(EVP_MD_CTX_new())
    {
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
            std::abort();  // only out of memory gets here
        }
    }
    void update(const void* data, std::size_t size)
    {
        if (size != 0) {
            EVP_DigestUpdate(ctx_.get(), data, size);
        }
    }
    std::string hex_final()
    {
        std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
        unsigned int length = 0;
        EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length);
        static constexpr char digits[] = "0123456789abcdef";
        std::string out;
        for (unsigned int i = 0; i < length; ++i) {
            out += digits[digest[i] >> 4];
            out += digits[digest[i] & 0x0f];
        }
        return out;
    }

private:
    struct deleter {
        void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
    };
    std::unique_ptr<EVP_MD_CTX, deleter> ctx_;
};

/** The unsigned number after `prefix` in `path`, or nullopt when it is missing or malformed. */
std::optional<std::uint64_t> number_after(std::string_view path, std::string_view prefix)
{
    if (path.substr(0, prefix.size()) != prefix) {
        return std::nullopt;
    }
    const auto digits = path.substr(prefix.size());
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc{} || end != digits.data() + digits.size() || digits.empty()) {
        return std::nullopt;
    }
    return value;
}

/** A response for /raw/NAME: its pieces, each written as one TLS record, and how it ends. */
struct raw_response {
    enum class ending { keep_alive, close_notify, cut };  // cut: TCP close without close_notify
    std::vector<std::string> pieces;
    ending end = ending::keep_alive;
};

std::optional<raw_response> canned_response(std::string_view name)
{
    using enum raw_response::ending;
    if (name == "close-delimited") {  // RFC 9112 §6.3 (8): the body ends with the connection
        return raw_response{{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "first part,", " second part\n"}, close_notify};
    }
    if (name == "close-delimited-bare") {  // the same without Connection: close (HTTP/1.1 allows it)
        return raw_response{{"HTTP/1.1 200 OK\r\n\r\n", "no length, no connection field\n"}, close_notify};
    }
    if (name == "early-hints") {  // RFC 8297: an interim response before the final one
        return raw_response{{"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
                             "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nafter hints\n"},
                            keep_alive};
    }
    if (name == "hints-with-answer") {  // the interim and the final response in one record
        return raw_response{{"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                             "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nafter hints\n"},
                            keep_alive};
    }
    if (name == "endless-hints") {  // more interim responses than a proxy should wait through
        std::string hints;
        for (int i = 0; i < 20; ++i) {
            hints += "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
        }
        return raw_response{{hints, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"}, keep_alive};
    }
    if (name == "huge-header") {  // a header over danegate's default header_bytes (64 KiB)
        return raw_response{{"HTTP/1.1 200 OK\r\nX-Huge: " + std::string(70 * 1024, 'h') + "\r\nContent-Length: 3\r\n\r\nok\n"},
                            close_notify};
    }
    if (name == "small-chunks") {  // 1,000 one-byte chunks, in the header's record
        std::string chunks;
        for (int i = 0; i < 1000; ++i) {
            chunks += "1\r\nx\r\n";
        }
        return raw_response{{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n"}, keep_alive};
    }
    if (name == "bad-chunk") {  // two valid chunks, then a chunk size that is not hex, in one record
        return raw_response{{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nval\r\n3\r\nid\n\r\nzz\r\nnot a chunk\r\n"},
                            close_notify};
    }
    if (name == "bad-chunk-at-once") {  // the same with one valid chunk: it and the bad size parse in one go
        return raw_response{{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nvalid\n\r\nzz\r\nnot a chunk\r\n"},
                            close_notify};
    }
    if (name == "split-header") {  // a header that arrives in three records
        return raw_response{{"HTTP/1.1 200 OK\r\nContent-", "Length: 6\r\nX-Split: ", "yes\r\n\r\nsplit\n"}, keep_alive};
    }
    if (name == "short-body") {  // closes 86 bytes before its Content-Length
        return raw_response{{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "only 14 bytes\n"}, close_notify};
    }
    if (name == "short-header") {  // closes within the header
        return raw_response{{"HTTP/1.1 200 OK\r\nContent-Le"}, close_notify};
    }
    if (name == "cut-body") {  // a close-delimited body whose end is a cut, not a close_notify
        return raw_response{{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "maybe all of it\n"}, cut};
    }
    if (name == "not-http") {
        return raw_response{{"SSH-2.0-OpenSSH_9.2\r\n\r\n"}, close_notify};
    }
    return std::nullopt;
}

/** Echoes WebSocket messages; takes over the TLS stream once an HTTP session sees an upgrade. */
class websocket_session : public std::enable_shared_from_this<websocket_session> {
public:
    websocket_session(beast::ssl_stream<beast::tcp_stream>&& stream, connection_counter&& counter)
        : ws_(std::move(stream)), counter_(std::move(counter))
    {
    }

    void run(http::request<http::buffer_body>&& upgrade)
    {
        // The websocket stream keeps its own timeouts (handshake, idle pings): the TCP one must go.
        beast::get_lowest_layer(ws_).expires_never();
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.auto_fragment(false);  // each message goes back as one frame, simple for raw test clients
        upgrade_ = std::move(upgrade);
        ws_.async_accept(upgrade_, beast::bind_front_handler(&websocket_session::on_accept, shared_from_this()));
    }

private:
    void on_accept(beast::error_code ec)
    {
        if (ec) {
            return;
        }
        do_read();
    }

    void do_read()
    {
        ws_.async_read(buffer_, beast::bind_front_handler(&websocket_session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t)
    {
        if (ec) {
            return;  // websocket::error::closed is the normal end; either way the session is over
        }
        ws_.text(ws_.got_text());
        ws_.async_write(buffer_.data(),
                        beast::bind_front_handler(&websocket_session::on_write, shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t)
    {
        if (ec) {
            return;
        }
        buffer_.consume(buffer_.size());
        do_read();
    }

    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
    beast::flat_buffer buffer_;
    connection_counter counter_;
    http::request<http::buffer_body> upgrade_;
};

/** One TLS connection: handshake, then HTTP/1.1 requests one after another until close. */
class http_session : public std::enable_shared_from_this<http_session> {
public:
    http_session(tcp::socket&& socket, ssl::context& tls, const char* key_name, backend_state& state)
        : stream_(std::move(socket), tls),
          state_(state),
          counter_(state),
          id_(++state.connections),
          timer_(stream_.get_executor()),
          key_name_(key_name)
    {
    }

    void run()
    {
        beast::get_lowest_layer(stream_).expires_after(idle_timeout);
        stream_.async_handshake(ssl::stream_base::server,
                                beast::bind_front_handler(&http_session::on_handshake, shared_from_this()));
    }

private:
    void on_handshake(beast::error_code ec)
    {
        if (ec) {
            return;
        }
        ++state_.tls_handshakes;
        resumed_ = SSL_session_reused(stream_.native_handle()) == 1;
        if (resumed_) {
            ++state_.tls_resumptions;
        }
        do_read_header();
    }

    void do_read_header()
    {
        parser_.emplace();
        parser_->header_limit(header_limit);
        parser_->body_limit(boost::none);  // bodies are streamed through body_buffer_, any size
        beast::get_lowest_layer(stream_).expires_after(idle_timeout);
        http::async_read_header(stream_, buffer_, *parser_,
                                beast::bind_front_handler(&http_session::on_read_header, shared_from_this()));
    }

    void on_read_header(beast::error_code ec, std::size_t)
    {
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
            keep_alive_ = false;
            send_text(http::status::request_header_fields_too_large, "header too large\n");
            return;
        }
        if (ec) {
            do_close(ec);
            return;
        }
        const auto& request = parser_->get();
        ++state_.requests;
        ++requests_on_connection_;
        state_.record_request(id_, request.method_string(), request.target());
        keep_alive_ = request.keep_alive();
        if (drop_next_) {
            // The keep-alive race as a client sees it: the server went away as the request came.
            beast::get_lowest_layer(stream_).close();
            return;
        }

        if (websocket::is_upgrade(request)) {
            if (path() != "/ws") {
                keep_alive_ = false;
                send_text(http::status::not_found, "websocket only on /ws\n");
                return;
            }
            std::make_shared<websocket_session>(std::move(stream_), std::move(counter_))->run(parser_->release());
            return;
        }

        body_hash_.emplace();
        body_bytes_ = 0;
        if (beast::iequals(request[http::field::expect], "100-continue")) {
            continue_.emplace(http::status::continue_, request.version());
            beast::get_lowest_layer(stream_).expires_after(idle_timeout);
            http::async_write(stream_, *continue_,
                              beast::bind_front_handler(&http_session::on_continue, shared_from_this()));
            return;
        }
        do_read_body();
    }

    void on_continue(beast::error_code ec, std::size_t)
    {
        if (ec) {
            do_close(ec);
            return;
        }
        do_read_body();
    }

    /** Reads the body (possibly empty) in body_buffer_-sized pieces, hashing each. */
    void do_read_body()
    {
        if (parser_->is_done()) {
            respond();
            return;
        }
        auto& body = parser_->get().body();
        body.data = body_buffer_.data();
        body.size = body_buffer_.size();
        beast::get_lowest_layer(stream_).expires_after(idle_timeout);
        http::async_read(stream_, buffer_, *parser_,
                         beast::bind_front_handler(&http_session::on_read_body, shared_from_this()));
    }

    void on_read_body(beast::error_code ec, std::size_t)
    {
        if (ec && ec != http::error::need_buffer) {
            do_close(ec);
            return;
        }
        const auto filled = body_buffer_.size() - parser_->get().body().size;
        body_hash_->update(body_buffer_.data(), filled);
        body_bytes_ += filled;
        do_read_body();
    }

    /** The path without the query. */
    std::string_view path() const
    {
        const auto target = parser_->get().target();
        const std::string_view whole(target.data(), target.size());
        return whole.substr(0, whole.find('?'));
    }

    void respond()
    {
        const auto& request = parser_->get();
        const auto p = path();
        const bool get = request.method() == http::verb::get;
        const bool get_or_head = get || request.method() == http::verb::head;

        if (p.substr(0, 5) == "/echo") {
            send_echo();
        } else if (const auto n = number_after(p, "/bytes/"); n && get) {
            start_bytes(*n, false);
        } else if (const auto c = number_after(p, "/chunked/"); c && get) {
            start_bytes(*c, true);
        } else if (const auto ms = number_after(p, "/slow/"); ms && get_or_head) {
            timer_.expires_after(std::chrono::milliseconds(std::min<std::uint64_t>(*ms, 3'600'000)));
            timer_.async_wait(beast::bind_front_handler(&http_session::on_slow, shared_from_this()));
        } else if (const auto code = number_after(p, "/status/"); code && get_or_head) {
            if (*code < 200 || *code > 599) {
                send_text(http::status::bad_request, "status must be 200..599\n");
            } else {
                const auto status = static_cast<unsigned>(*code);
                send_text(status, "status " + std::to_string(status) + "\n");
            }
        } else if (p == "/drop-next" && get) {
            drop_next_ = true;
            send_text(http::status::ok, "the next request on this connection is dropped unanswered\n");
        } else if (p == "/stats" && get_or_head) {
            send_json(http::status::ok,
                      "{\"connections\": " + std::to_string(state_.connections) +
                          ", \"active_connections\": " + std::to_string(state_.active_connections) +
                          ", \"requests\": " + std::to_string(state_.requests) +
                          ", \"tls_handshakes\": " + std::to_string(state_.tls_handshakes) +
                          ", \"tls_resumptions\": " + std::to_string(state_.tls_resumptions) + "}\n");
        } else if (auto raw = p.substr(0, 5) == "/raw/" ? canned_response(p.substr(5)) : std::nullopt; raw && get) {
            raw_ = std::move(*raw);
            write_raw_piece(0);
        } else if (p == "/ws") {
            send_text(http::status::upgrade_required, "websocket upgrade expected\n");
        } else {
            send_text(http::status::not_found, "no such endpoint\n");
        }
    }

    /** Writes raw_'s piece @p index, then the next one 20 ms later, then ends as raw_ says. */
    void write_raw_piece(std::size_t index)
    {
        if (index == raw_.pieces.size()) {
            switch (raw_.end) {
            case raw_response::ending::keep_alive:
                on_write({}, 0);
                return;
            case raw_response::ending::close_notify:
                do_close({});
                return;
            case raw_response::ending::cut:
                beast::get_lowest_layer(stream_).close();
                return;
            }
        }
        beast::get_lowest_layer(stream_).expires_after(idle_timeout);
        net::async_write(stream_, net::buffer(raw_.pieces[index]),
                         [self = shared_from_this(), index](beast::error_code ec, std::size_t) {
                             if (ec) {
                                 self->do_close(ec);
                                 return;
                             }
                             self->timer_.expires_after(std::chrono::milliseconds(20));
                             self->timer_.async_wait([self, index](beast::error_code wait_ec) {
                                 if (!wait_ec) {
                                     self->write_raw_piece(index + 1);
                                 }
                             });
                         });
    }

    void on_slow(beast::error_code ec)
    {
        if (ec) {
            return;  // cancelled at shutdown
        }
        send_text(http::status::ok, "slow");
    }

    void send_echo()
    {
        const auto& request = parser_->get();
        std::string json = "{\"backend\": " + json_escape(state_.name) +
            ", \"method\": " + json_escape(request.method_string()) +
            ", \"target\": " + json_escape(request.target()) + ", \"headers\": [";
        bool first = true;
        for (const auto& field : request) {
            json += first ? "[" : ", [";
            first = false;
            json += json_escape(field.name_string()) + ", " + json_escape(field.value()) + "]";
        }
        json += "], \"body_bytes\": " + std::to_string(body_bytes_) +
            ", \"body_sha256\": " + json_escape(body_hash_->hex_final()) +
            ", \"connection_id\": " + std::to_string(id_) +
            ", \"requests_on_connection\": " + std::to_string(requests_on_connection_) +
            ", \"tls_resumed\": " + (resumed_ ? "true" : "false") +
            ", \"key\": " + json_escape(key_name_) + "}\n";
        send_json(http::status::ok, std::move(json));
    }

    void send_json(http::status status, std::string&& body)
    {
        send_string(static_cast<unsigned>(status), "application/json", std::move(body));
    }

    void send_text(http::status status, std::string&& body)
    {
        send_string(static_cast<unsigned>(status), "text/plain", std::move(body));
    }

    void send_text(unsigned status, std::string&& body)
    {
        send_string(status, "text/plain", std::move(body));
    }

    void send_string(unsigned status, std::string_view content_type, std::string&& body)
    {
        const bool head = parser_->get().method() == http::verb::head;
        auto& response = string_response_.emplace();
        response.version(11);
        response.result(status);
        if (response.result() == http::status::unknown) {
            response.reason("Test Status");  // Beast would print "<unknown-status>"
        }
        response.set(http::field::server, "danegate_http_test_backend");
        response.set(http::field::content_type, content_type);
        response.keep_alive(keep_alive_);
        const bool no_body = status == 204 || status == 304;
        if (!no_body) {
            response.body() = std::move(body);
            response.prepare_payload();
        }
        if (head) {
            response.body().clear();  // Content-Length stays: it describes the GET answer
        }
        beast::get_lowest_layer(stream_).expires_after(idle_timeout);
        http::async_write(stream_, response,
                          beast::bind_front_handler(&http_session::on_write, shared_from_this()));
    }

    /** /bytes/N and /chunked/N: the header, then the pattern through body_buffer_. */
    void start_bytes(std::uint64_t total, bool chunked)
    {
        auto& response = bytes_response_.emplace();
        response.version(11);
        response.result(http::status::ok);
        response.set(http::field::server, "danegate_http_test_backend");
        response.set(http::field::content_type, "application/octet-stream");
        response.keep_alive(keep_alive_);
        if (chunked) {
            response.chunked(true);
        } else {
            response.content_length(total);
        }
        bytes_total_ = total;
        bytes_sent_ = 0;
        bytes_piece_ = chunked ? chunk_size : io_buffer_size;
        response.body().data = nullptr;
        response.body().more = bytes_total_ != 0;
        bytes_serializer_.emplace(response);
        do_write_bytes();
    }

    void do_write_bytes()
    {
        auto& body = bytes_response_->body();
        if (bytes_sent_ < bytes_total_) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes_piece_, bytes_total_ - bytes_sent_));
            for (std::size_t i = 0; i < n; ++i) {
                body_buffer_[i] = static_cast<char>((bytes_sent_ + i) % pattern_modulus);
            }
            bytes_sent_ += n;
            body.data = body_buffer_.data();
            body.size = n;
            body.more = true;
        } else {
            body.data = nullptr;
            body.size = 0;
            body.more = false;
        }
        beast::get_lowest_layer(stream_).expires_after(idle_timeout);
        http::async_write(stream_, *bytes_serializer_,
                          beast::bind_front_handler(&http_session::on_write_bytes, shared_from_this()));
    }

    void on_write_bytes(beast::error_code ec, std::size_t bytes)
    {
        if (ec == http::error::need_buffer) {
            do_write_bytes();
            return;
        }
        bytes_serializer_.reset();
        bytes_response_.reset();
        on_write(ec, bytes);
    }

    void on_write(beast::error_code ec, std::size_t)
    {
        if (ec) {
            do_close(ec);
            return;
        }
        if (!keep_alive_) {
            do_close({});
            return;
        }
        do_read_header();
    }

    void do_close(beast::error_code ec)
    {
        // After a transport failure or timeout a TLS close_notify cannot be sent; just drop.
        if (ec && ec != http::error::end_of_stream) {
            return;
        }
        beast::get_lowest_layer(stream_).expires_after(5s);
        stream_.async_shutdown(beast::bind_front_handler(&http_session::on_shutdown, shared_from_this()));
    }

    void on_shutdown(beast::error_code) {}

    beast::ssl_stream<beast::tcp_stream> stream_;
    backend_state& state_;
    connection_counter counter_;
    const std::uint64_t id_;
    net::steady_timer timer_;
    beast::flat_buffer buffer_{header_limit + io_buffer_size};
    std::array<char, io_buffer_size> body_buffer_{};
    std::optional<http::request_parser<http::buffer_body>> parser_;
    std::optional<sha256> body_hash_;
    std::uint64_t body_bytes_ = 0;
    std::uint64_t requests_on_connection_ = 0;
    bool resumed_ = false;
    bool drop_next_ = false;  // /drop-next: close the connection when the next request arrives
    const char* key_name_;  // "first" or "next": which certificate this connection's handshake used
    bool keep_alive_ = true;
    std::optional<http::response<http::empty_body>> continue_;
    std::optional<http::response<http::string_body>> string_response_;
    raw_response raw_;
    std::optional<http::response<http::buffer_body>> bytes_response_;
    std::optional<http::response_serializer<http::buffer_body>> bytes_serializer_;
    std::uint64_t bytes_total_ = 0;
    std::uint64_t bytes_sent_ = 0;
    std::size_t bytes_piece_ = 0;
};

/** Accepts connections and hands each to an http_session on its own strand. */
class listener : public std::enable_shared_from_this<listener> {
public:
    listener(net::io_context& io, ssl::context& tls, backend_state& state, const tcp::endpoint& endpoint)
        : io_(io), tls_(&tls), state_(state), acceptor_(io)
    {
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(net::socket_base::max_listen_connections);
    }

    void run() { do_accept(); }

    /** New connections use @p tls from now on (a key rollover); open ones keep theirs. */
    void switch_to(ssl::context& tls, const char* key_name)
    {
        tls_ = &tls;
        key_name_ = key_name;
    }

    void stop()
    {
        beast::error_code ignored;
        acceptor_.close(ignored);
    }

private:
    void do_accept()
    {
        acceptor_.async_accept(net::make_strand(io_),
                               beast::bind_front_handler(&listener::on_accept, shared_from_this()));
    }

    void on_accept(beast::error_code ec, tcp::socket socket)
    {
        if (ec == net::error::operation_aborted) {
            return;  // stop()
        }
        if (!ec) {
            std::make_shared<http_session>(std::move(socket), *tls_, key_name_, state_)->run();
        }
        do_accept();
    }

    net::io_context& io_;
    ssl::context* tls_;
    const char* key_name_ = "first";
    backend_state& state_;
    tcp::acceptor acceptor_;
};

/** ALPN: pick http/1.1 when the client offers it, otherwise negotiate none (RFC 7301 §3.2). */
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                unsigned int in_length, void*)
{
    static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, http11, sizeof http11, in, in_length) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

/** A server context for @p cert and @p key, with resumption and ALPN on. */
ssl::context make_tls(const std::string& cert, const std::string& key)
{
    ssl::context tls(ssl::context::tls_server);
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
    tls.use_certificate_chain_file(cert);
    tls.use_private_key_file(key, ssl::context::pem);
    // Resumption by session id (TLS 1.2) and by ticket (both versions; tickets are on by
    // default, SSL_OP_NO_TICKET stays clear). The id context is required for the former.
    static constexpr unsigned char session_context[] = "danegate_http_test_backend";
    SSL_CTX_set_session_id_context(tls.native_handle(), session_context, sizeof session_context - 1);
    SSL_CTX_set_session_cache_mode(tls.native_handle(), SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_alpn_select_cb(tls.native_handle(), select_alpn, nullptr);
    return tls;
}

struct options {
    std::string listen;
    std::string cert;
    std::string key;
    std::string record;
    std::string name = "backend";
    std::string next_cert;  // with next_key: the certificate SIGUSR1 switches new handshakes to
    std::string next_key;
};

[[noreturn]] void usage(const char* program, const std::string& problem)
{
    std::cerr << program << ": " << problem << "\nusage: " << program
              << " --listen ADDR:PORT --cert PEM --key PEM [--record FILE] [--name NAME]"
                 " [--next-cert PEM --next-key PEM]\n";
    std::exit(2);
}

options parse_options(int argc, char** argv)
{
    options result;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (i + 1 >= argc) {
            usage(argv[0], "missing value after " + std::string(flag));
        }
        const std::string value = argv[++i];
        if (flag == "--listen") {
            result.listen = value;
        } else if (flag == "--cert") {
            result.cert = value;
        } else if (flag == "--key") {
            result.key = value;
        } else if (flag == "--record") {
            result.record = value;
        } else if (flag == "--name") {
            result.name = value;
        } else if (flag == "--next-cert") {
            result.next_cert = value;
        } else if (flag == "--next-key") {
            result.next_key = value;
        } else {
            usage(argv[0], "unknown option " + std::string(flag));
        }
    }
    if (result.listen.empty() || result.cert.empty() || result.key.empty()) {
        usage(argv[0], "--listen, --cert and --key are required");
    }
    if (result.next_cert.empty() != result.next_key.empty()) {
        usage(argv[0], "--next-cert and --next-key go together");
    }
    return result;
}

/** "ADDR:PORT" or "[ADDR6]:PORT". */
tcp::endpoint parse_endpoint(const char* program, const std::string& text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) {
        usage(program, "--listen needs ADDR:PORT, not " + text);
    }
    std::string address = text.substr(0, colon);
    if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
        address = address.substr(1, address.size() - 2);
    }
    const auto port = number_after(std::string_view(text).substr(colon + 1), "");
    beast::error_code ec;
    const auto ip = net::ip::make_address(address, ec);
    if (ec || !port || *port > 65535) {
        usage(program, "bad --listen " + text);
    }
    return {ip, static_cast<std::uint16_t>(*port)};
}

}  // namespace

int main(int argc, char** argv)
{
    const auto opts = parse_options(argc, argv);
    const auto endpoint = parse_endpoint(argv[0], opts.listen);

    backend_state state;
    state.name = opts.name;
    if (!opts.record.empty()) {
        state.record = std::fopen(opts.record.c_str(), "a");
        if (state.record == nullptr) {
            std::perror(("cannot open " + opts.record).c_str());
            return 1;
        }
    }

    try {
        auto tls = make_tls(opts.cert, opts.key);
        std::optional<ssl::context> next_tls;
        if (!opts.next_cert.empty()) {
            next_tls.emplace(make_tls(opts.next_cert, opts.next_key));
        }

        net::io_context io(1);
        auto server = std::make_shared<listener>(io, tls, state, endpoint);
        server->run();

        net::signal_set signals(io, SIGTERM, SIGINT);
        signals.async_wait([&io, &server](beast::error_code, int) {
            server->stop();
            io.stop();
        });
        // SIGUSR1: the key rollover's switch, without a moment of downtime.
        net::signal_set rollover(io, SIGUSR1);
        if (next_tls) {
            rollover.async_wait([&server, &next_tls](beast::error_code ec, int) {
                if (!ec) {
                    server->switch_to(*next_tls, "next");
                    std::cerr << "danegate_http_test_backend: new handshakes use the next certificate" << std::endl;
                }
            });
        }
        std::signal(SIGPIPE, SIG_IGN);

        std::cerr << "danegate_http_test_backend " << opts.name << " listening on " << opts.listen << std::endl;
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "danegate_http_test_backend: " << e.what() << std::endl;
        return 1;
    }
    if (state.record != nullptr) {
        std::fclose(state.record);
    }
    std::cerr << "danegate_http_test_backend " << opts.name << ": stopped" << std::endl;
    return 0;
}
