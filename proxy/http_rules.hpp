// The HTTP/1.1 rules danegate applies to every message it relays (DESIGN §4), as pure functions
// over Beast headers so they are tested without sockets: request validation (RFC 9112 §3.2 Host,
// §6.1/§6.3 framing), hop-by-hop removal (RFC 9110 §7.6.1), and the forwarding headers
// (RFC 9110 §7.6.3 Via, plus the de-facto X-Forwarded-*).
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace danegate::proxy {

/** Why a request is refused before routing: the status to answer and a short text for the body. */
struct request_problem {
    unsigned status = 400;
    std::string text;
};

/**
 * Checks a request header as parsed by Beast: version, request-target form, exactly one valid
 * Host, unambiguous framing, supported Transfer-Encoding, no CONNECT, no Upgrade but a valid
 * WebSocket handshake (RFC 6455 §4.1), Expect.
 * @return the problem, or nullopt when the request may be routed.
 */
std::optional<request_problem> check_request(const boost::beast::http::request_header<>& request);

/** Whether @p request, accepted by check_request, is a WebSocket opening handshake to tunnel. */
bool is_websocket_upgrade(const boost::beast::http::request_header<>& request);

/**
 * Checks the upstream's answer to a WebSocket handshake whose Sec-WebSocket-Key was @p key
 * (RFC 6455 §4.2.2): 101, Upgrade: websocket, Connection: Upgrade and the matching
 * Sec-WebSocket-Accept. @return the problem, or nullopt when the tunnel may open.
 */
std::optional<std::string> check_websocket_accept(const boost::beast::http::response_header<>& response,
                                                  std::string_view key);

/**
 * Whether the raw header block (request line to the final CRLF) folds a field value over lines.
 * RFC 9112 §5.2: a server must reject obs-fold in a request (400) - Beast 1.81 would silently
 * unfold it, so the session checks the bytes before the parser sees them.
 */
bool has_obs_fold(std::string_view header_block) noexcept;

/** Whether @p host is a valid Host field value: uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2). */
bool valid_host(std::string_view host) noexcept;

/**
 * Checks an upstream response header (DESIGN §4: conflicting framing is 502, never relayed).
 * @return a description of the problem, or nullopt.
 */
std::optional<std::string> check_response(const boost::beast::http::response_header<>& response);

/**
 * Removes the hop-by-hop fields of RFC 9110 §7.6.1 from @p fields: every field named in
 * Connection, then Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding and
 * Upgrade. Content-Length stays (callers reframe the body explicitly).
 */
void remove_hop_by_hop(boost::beast::http::fields& fields);

/** What the request relayed upstream says besides the client's own fields. */
struct upstream_request_options {
    std::string_view client_address;  ///< appended to X-Forwarded-For
    std::string_view host;            ///< X-Forwarded-Host: the Host the client asked for
    bool websocket = false;           ///< a WebSocket handshake: asks the next hop to upgrade anew
    bool chunked = false;             ///< the body goes in chunks (Transfer-Encoding: chunked)
    std::optional<std::uint64_t> content_length;  ///< else this Content-Length, when there is a body
};

/**
 * Renders into @p out the head of the request relayed for @p request (DESIGN §4), in one pass
 * over the client's fields, as a copy edited field by field would read but without building
 * it: "METHOD target HTTP/1.1"; the client's fields in order, without the hop-by-hop ones of
 * RFC 9110 §7.6.1 (as remove_hop_by_hop), without Content-Length and Expect (we frame the body
 * and answer 100-continue ourselves) and without the fields this hop rewrites; then
 * X-Forwarded-For (the client's list, if any, then @p options.client_address),
 * X-Forwarded-Proto "https", X-Forwarded-Host, Via with "<received version> danegate" appended
 * (RFC 9110 §7.6.3), Connection and Upgrade for a WebSocket handshake, and the framing field.
 */
void render_upstream_request(const boost::beast::http::request_header<>& request,
                             const upstream_request_options& options, std::string& out);

/** What the response relayed to the client says besides the upstream's own fields. */
struct client_response_options {
    bool chunked = false;                         ///< the body goes in chunks (Transfer-Encoding: chunked)
    std::optional<std::uint64_t> content_length;  ///< else this Content-Length, when known
    bool keep_alive = true;                       ///< false: "Connection: close"
};

/**
 * Renders into @p out the head of the response relayed for @p response (DESIGN §4), in one pass
 * over the upstream's fields, as a copy edited field by field would read but without building
 * it: "HTTP/1.1 <status> <reason>" (the upstream's reason, or the standard one when it sent
 * none); the upstream's fields in order, without the hop-by-hop ones of RFC 9110 §7.6.1 (as
 * remove_hop_by_hop) and without Content-Length (we frame the body); then Via with
 * "<received version> danegate" appended (RFC 9110 §7.6.3), the framing field and
 * "Connection: close" when the connection ends after this response.
 */
void render_client_response(const boost::beast::http::response_header<>& response,
                            const client_response_options& options, std::string& out);

/**
 * Appends "1.0 danegate" or "1.1 danegate" to Via: the received-protocol is the version of the
 * message as it reached us (RFC 9110 §7.6.3), for requests and responses alike.
 */
void append_via(boost::beast::http::fields& fields, unsigned received_version);

}  // namespace danegate::proxy
