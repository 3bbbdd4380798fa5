// The HTTP/1.1 relay rules (DESIGN §4), each pass paired with a fail: Host (RFC 9112 §3.2),
// framing (RFC 9112 §6.1, §6.3), hop-by-hop removal (RFC 9110 §7.6.1), Via (RFC 9110 §7.6.3) and
// X-Forwarded-*.
#include "proxy/http_rules.hpp"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace danegate::proxy {
namespace {

namespace http = boost::beast::http;

http::request_header<> get(std::string_view host = "app.example")
{
    http::request_header<> request;
    request.method(http::verb::get);
    request.target("/");
    request.version(11);
    if (!host.empty()) {
        request.set(http::field::host, host);
    }
    return request;
}

unsigned status_of(const http::request_header<>& request)
{
    const auto problem = check_request(request);
    return problem ? problem->status : 0;
}

TEST(http_rules, a_plain_get_with_one_valid_host_passes)
{
    EXPECT_EQ(status_of(get()), 0u);
    EXPECT_EQ(status_of(get("app.example:8443")), 0u);
    EXPECT_EQ(status_of(get("[::1]:8443")), 0u);
    EXPECT_EQ(status_of(get("192.0.2.1")), 0u);
}

TEST(http_rules, missing_duplicate_or_invalid_host_is_400)
{
    EXPECT_EQ(status_of(get("")), 400u) << "missing";
    auto twice = get();
    twice.insert(http::field::host, "app.example");
    EXPECT_EQ(status_of(twice), 400u) << "duplicate, even when equal";
    EXPECT_EQ(status_of(get("app example")), 400u);
    EXPECT_EQ(status_of(get("app.example:84x3")), 400u);
    EXPECT_EQ(status_of(get("app.example:123456")), 400u);
    EXPECT_EQ(status_of(get(":443")), 400u);
    EXPECT_EQ(status_of(get("[::1")), 400u);
    EXPECT_EQ(status_of(get("a/b")), 400u);
}

TEST(http_rules, valid_host_accepts_reg_names_and_ip_literals_only)
{
    EXPECT_TRUE(valid_host("a-b.example"));
    EXPECT_TRUE(valid_host("[2001:db8::1]"));
    EXPECT_FALSE(valid_host(""));
    EXPECT_FALSE(valid_host("a@b"));
    EXPECT_FALSE(valid_host("[2001:db8::1]x"));
    EXPECT_TRUE(valid_host("app.corp.example:8443"));
    EXPECT_TRUE(valid_host("svc_1.corp.example"));
    EXPECT_TRUE(valid_host("[::1]:443"));
    // A Host routed on must be one DNS name: lists, escapes and odd punctuation are refused.
    EXPECT_FALSE(valid_host("evil.example,app.corp.example"));
    EXPECT_FALSE(valid_host("%61pp.corp.example"));
    EXPECT_FALSE(valid_host("app.corp.example;x"));
    EXPECT_FALSE(valid_host("app.corp.example:70000"));
    EXPECT_FALSE(valid_host("[zz::1]"));
    EXPECT_FALSE(valid_host("[127.0.0.1]"));
}

TEST(http_rules, obs_fold_is_found_in_a_raw_header_block)
{
    EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n"));
    EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\ttwo\r\n"));
    EXPECT_FALSE(has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\nX-A: one two\r\n"));
}

TEST(http_rules, content_length_with_transfer_encoding_is_400)
{
    auto request = get();
    request.method(http::verb::post);
    request.set(http::field::content_length, "3");
    EXPECT_EQ(status_of(request), 0u);
    request.set(http::field::transfer_encoding, "chunked");
    EXPECT_EQ(status_of(request), 400u);
}

TEST(http_rules, differing_content_lengths_are_400)
{
    auto request = get();
    request.insert(http::field::content_length, "3");
    request.insert(http::field::content_length, "4");
    EXPECT_EQ(status_of(request), 400u);
    auto listed = get();
    listed.set(http::field::content_length, "3, 3");
    EXPECT_EQ(status_of(listed), 400u) << "we do not repair lists";
}

TEST(http_rules, transfer_codings_other_than_chunked_are_refused)
{
    auto request = get();
    request.set(http::field::transfer_encoding, "chunked");
    EXPECT_EQ(status_of(request), 0u);
    request.set(http::field::transfer_encoding, "gzip, chunked");
    EXPECT_EQ(status_of(request), 501u) << "RFC 9112 §6.1: unknown coding";
    request.set(http::field::transfer_encoding, "chunked, gzip");
    EXPECT_EQ(status_of(request), 400u) << "RFC 9112 §6.3: chunked must be final in a request";
    request.set(http::field::transfer_encoding, "chunked");
    request.version(10);
    EXPECT_EQ(status_of(request), 400u) << "RFC 9112 §6.1: TE in HTTP/1.0 is faulty framing";
}

http::request_header<> websocket_handshake()
{
    auto request = get();
    request.set(http::field::upgrade, "websocket");
    request.set(http::field::connection, "keep-alive, Upgrade");
    request.set(http::field::sec_websocket_version, "13");
    request.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");  // RFC 6455 §1.3
    return request;
}

TEST(http_rules, only_a_valid_websocket_handshake_is_tunnelled)
{
    auto valid = websocket_handshake();
    EXPECT_EQ(status_of(valid), 0u);
    EXPECT_TRUE(is_websocket_upgrade(valid));
    EXPECT_FALSE(is_websocket_upgrade(get()));

    auto no_connection = websocket_handshake();
    no_connection.set(http::field::connection, "keep-alive");
    EXPECT_EQ(status_of(no_connection), 400u);
    auto old_version = websocket_handshake();
    old_version.set(http::field::sec_websocket_version, "8");
    EXPECT_EQ(status_of(old_version), 400u);
    auto short_key = websocket_handshake();
    short_key.set(http::field::sec_websocket_key, "c2hvcnQ=");
    EXPECT_EQ(status_of(short_key), 400u);
    auto post = websocket_handshake();
    post.method(http::verb::post);
    EXPECT_EQ(status_of(post), 400u);
    auto with_body = websocket_handshake();
    with_body.set(http::field::content_length, "5");
    EXPECT_EQ(status_of(with_body), 400u);
    auto http10 = websocket_handshake();
    http10.version(10);
    EXPECT_EQ(status_of(http10), 400u);
}

TEST(http_rules, the_upstream_must_prove_it_read_the_websocket_handshake)
{
    http::response_header<> accept;
    accept.result(http::status::switching_protocols);
    accept.set(http::field::upgrade, "websocket");
    accept.set(http::field::connection, "Upgrade");
    accept.set(http::field::sec_websocket_accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");  // RFC 6455 §1.3
    EXPECT_FALSE(check_websocket_accept(accept, "dGhlIHNhbXBsZSBub25jZQ=="));
    EXPECT_TRUE(check_websocket_accept(accept, "AAAAAAAAAAAAAAAAAAAAAA==")) << "another key, another accept";
    auto no_upgrade = accept;
    no_upgrade.erase(http::field::upgrade);
    EXPECT_TRUE(check_websocket_accept(no_upgrade, "dGhlIHNhbXBsZSBub25jZQ=="));
    auto not_101 = accept;
    not_101.result(http::status::ok);
    EXPECT_TRUE(check_websocket_accept(not_101, "dGhlIHNhbXBsZSBub25jZQ=="));
}

TEST(http_rules, connect_upgrades_and_other_forms_are_refused)
{
    auto connect = get();
    connect.method(http::verb::connect);
    connect.target("app.example:443");
    EXPECT_EQ(status_of(connect), 501u);

    auto h2c = get();
    h2c.set(http::field::upgrade, "h2c");
    EXPECT_EQ(status_of(h2c), 400u);
    auto websocket = get();
    websocket.set(http::field::upgrade, "websocket");
    EXPECT_EQ(status_of(websocket), 400u) << "Upgrade: websocket alone is not a handshake";

    auto absolute = get();
    absolute.target("https://app.example/");
    EXPECT_EQ(status_of(absolute), 400u);
    auto asterisk = get();
    asterisk.method(http::verb::options);
    asterisk.target("*");
    EXPECT_EQ(status_of(asterisk), 0u);

    auto http2 = get();
    http2.version(20);
    EXPECT_EQ(status_of(http2), 505u);
}

TEST(http_rules, only_100_continue_is_an_acceptable_expectation)
{
    auto request = get();
    request.set(http::field::expect, "100-Continue");
    EXPECT_EQ(status_of(request), 0u);
    request.set(http::field::expect, "something-else");
    EXPECT_EQ(status_of(request), 417u);
}

TEST(http_rules, hop_by_hop_fields_and_those_named_in_connection_are_removed)
{
    http::fields fields;
    fields.set(http::field::connection, "keep-alive, X-Secret , close");
    fields.insert(http::field::connection, "x-other");
    fields.set("X-Secret", "1");
    fields.set("X-Other", "1");
    fields.set(http::field::keep_alive, "timeout=5");
    fields.set(http::field::proxy_connection, "keep-alive");
    fields.set(http::field::te, "trailers");
    fields.set(http::field::trailer, "X-Checksum");
    fields.set(http::field::transfer_encoding, "chunked");
    fields.set(http::field::upgrade, "websocket");
    fields.set("X-Kept", "1");
    fields.set(http::field::host, "app.example");
    remove_hop_by_hop(fields);
    for (const char* gone : {"Connection", "X-Secret", "X-Other", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                             "Transfer-Encoding", "Upgrade"}) {
        EXPECT_EQ(fields.count(gone), 0u) << gone;
    }
    EXPECT_EQ(fields["X-Kept"], "1");
    EXPECT_EQ(fields[http::field::host], "app.example");
}

TEST(http_rules, connection_cannot_remove_host)
{
    http::fields fields;
    fields.set(http::field::connection, "Host, Content-Length");
    fields.set(http::field::host, "app.example");
    fields.set(http::field::content_length, "3");
    remove_hop_by_hop(fields);
    EXPECT_EQ(fields[http::field::host], "app.example");
    EXPECT_EQ(fields[http::field::content_length], "3");
}

/** Options for a request from @p address to app.example, framed as given. */
upstream_request_options options_for(std::string_view address, bool chunked = false,
                                     std::optional<std::uint64_t> content_length = std::nullopt, bool websocket = false)
{
    upstream_request_options options;
    options.client_address = address;
    options.host = "app.example";
    options.chunked = chunked;
    options.content_length = content_length;
    options.websocket = websocket;
    return options;
}

/** render_upstream_request's output for @p request, with @p options defaulted as for a GET. */
std::string upstream_head(const http::request_header<>& request, upstream_request_options options = {})
{
    if (options.client_address.empty()) {
        options.client_address = "192.0.2.9";
    }
    if (options.host.empty()) {
        options.host = "app.example";
    }
    std::string out;
    render_upstream_request(request, options, out);
    return out;
}

/** The head Beast's own serializer writes for @p message: what the session sent before. */
template <bool IsRequest>
std::string beast_head(http::message<IsRequest, http::empty_body>& message)
{
    http::serializer<IsRequest, http::empty_body> serializer(message);
    serializer.split(true);
    std::string wire;
    boost::system::error_code ec;
    while (!ec && !serializer.is_header_done()) {
        serializer.next(ec, [&](boost::system::error_code&, const auto& buffers) {
            wire += boost::beast::buffers_to_string(buffers);
            serializer.consume(boost::beast::buffer_bytes(buffers));
        });
    }
    EXPECT_FALSE(ec) << ec.message();
    return wire;
}

/**
 * The rewrite spelled out with Beast's field operations, as the session did it before the head
 * was rendered in one pass: a copy, remove_hop_by_hop, erase, set at the end, then Beast's own
 * serializer. render_upstream_request must produce exactly these bytes.
 */
std::string edited_copy(const http::request_header<>& in, const upstream_request_options& options)
{
    http::request<http::empty_body> out;
    out.method_string(in.method_string());
    out.target(in.target());
    out.version(11);
    for (const auto& field : in) {
        out.insert(field.name_string(), field.value());
    }
    remove_hop_by_hop(out.base());
    out.erase(http::field::content_length);
    out.erase(http::field::expect);
    std::string forwarded_for;
    for (auto [it, end] = out.equal_range("X-Forwarded-For"); it != end; ++it) {
        forwarded_for += std::string(it->value()) + ", ";
    }
    out.set("X-Forwarded-For", forwarded_for + std::string(options.client_address));
    out.set("X-Forwarded-Proto", "https");
    out.set("X-Forwarded-Host", options.host);
    append_via(out.base(), in.version());
    if (options.websocket) {
        out.set(http::field::connection, "Upgrade");
        out.set(http::field::upgrade, "websocket");
    }
    if (options.chunked) {
        out.chunked(true);
    } else if (options.content_length) {
        out.content_length(*options.content_length);
    }
    return beast_head(out);
}

TEST(http_rules, the_upstream_request_appends_to_the_client_s_forwarding_lists)
{
    auto request = get("app.example:8443");
    request.insert("X-Forwarded-For", "203.0.113.7");
    request.insert("x-forwarded-for", "198.51.100.1");
    request.set("X-Forwarded-Proto", "http");
    request.set("X-Forwarded-Host", "spoofed.example");
    request.set(http::field::via, "1.0 fred");
    request.set(http::field::user_agent, "curl/8");
    auto options = options_for("192.0.2.9");
    options.host = "app.example:8443";
    EXPECT_EQ(upstream_head(request, options),
              "GET / HTTP/1.1\r\n"
              "Host: app.example:8443\r\n"
              "User-Agent: curl/8\r\n"
              "X-Forwarded-For: 203.0.113.7, 198.51.100.1, 192.0.2.9\r\n"
              "X-Forwarded-Proto: https\r\n"
              "X-Forwarded-Host: app.example:8443\r\n"
              "Via: 1.0 fred, 1.1 danegate\r\n"
              "\r\n");
}

TEST(http_rules, the_upstream_request_starts_lists_when_absent_and_says_the_received_version)
{
    const auto head = upstream_head(get());
    EXPECT_NE(head.find("\r\nX-Forwarded-For: 192.0.2.9\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("\r\nVia: 1.1 danegate\r\n"), std::string::npos) << head;

    auto from_http10 = get();
    from_http10.version(10);
    const auto head10 = upstream_head(from_http10);
    EXPECT_TRUE(head10.starts_with("GET / HTTP/1.1\r\n")) << "HTTP/1.1 upstream whatever the client spoke";
    EXPECT_NE(head10.find("\r\nVia: 1.0 danegate\r\n"), std::string::npos) << "received-protocol is the client's version";
}

TEST(http_rules, the_upstream_request_is_the_edited_copy_byte_for_byte)
{
    // Hop-by-hop fields (listed in Connection too, in any case, including a forwarding field),
    // Expect and the client's framing go; the rest keeps its order and spelling.
    auto tricky = get("app.example");
    tricky.method_string("PROPFIND");
    tricky.target("/dav/?depth=1");
    tricky.set(http::field::connection, "keep-alive, X-Secret, x-forwarded-for");
    tricky.insert("X-Secret", "1");
    tricky.insert("X-Forwarded-For", "203.0.113.7");
    tricky.insert("x-forwarded-proto", "http");
    tricky.set(http::field::keep_alive, "timeout=5");
    tricky.set(http::field::te, "trailers");
    tricky.set(http::field::expect, "100-continue");
    tricky.set(http::field::transfer_encoding, "chunked");
    tricky.insert("cookie", "a=1");
    tricky.insert("Via", "1.1 first");
    tricky.insert("via", "1.0 second");
    tricky.insert("X-Empty", "");
    const std::vector<upstream_request_options> framings{
        options_for("2001:db8::7"),
        options_for("192.0.2.9", true),
        options_for("192.0.2.9", false, 0),
        options_for("192.0.2.9", false, 123456789012),
        options_for("192.0.2.9", false, std::nullopt, true),
    };
    for (const auto& options : framings) {
        EXPECT_EQ(upstream_head(tricky, options), edited_copy(tricky, options));
    }
    auto plain = get();
    plain.version(10);
    plain.set(http::field::content_length, "5");
    EXPECT_EQ(upstream_head(plain, framings[3]), edited_copy(plain, framings[3]));
    const auto head = upstream_head(tricky, framings[1]);
    for (const char* gone : {"X-Secret", "Keep-Alive", "TE:", "Expect", "203.0.113.7", "x-forwarded-proto"}) {
        EXPECT_EQ(head.find(gone), std::string::npos) << gone << " in " << head;
    }
    EXPECT_NE(head.find("\r\nVia: 1.1 first, 1.0 second, 1.1 danegate\r\n"), std::string::npos) << head;
}

/** The client's response spelled out with Beast's field operations, as the session did it before. */
std::string edited_copy(http::response_header<> in, const client_response_options& options)
{
    http::response<http::empty_body> out(std::move(in));
    const unsigned received_version = out.version();
    out.version(11);
    remove_hop_by_hop(out.base());
    out.erase(http::field::content_length);
    append_via(out.base(), received_version);
    if (options.chunked) {
        out.chunked(true);
    } else if (options.content_length) {
        out.content_length(*options.content_length);
    }
    out.keep_alive(options.keep_alive);
    return beast_head(out);
}

client_response_options response_options(bool chunked, std::optional<std::uint64_t> content_length, bool keep_alive)
{
    client_response_options options;
    options.chunked = chunked;
    options.content_length = content_length;
    options.keep_alive = keep_alive;
    return options;
}

TEST(http_rules, the_client_response_is_the_edited_copy_byte_for_byte)
{
    http::response_header<> upstream;
    upstream.result(http::status::ok);
    upstream.version(11);
    upstream.set(http::field::server, "backend");
    upstream.set(http::field::connection, "keep-alive, X-Hop");
    upstream.insert("X-Hop", "1");
    upstream.set(http::field::transfer_encoding, "chunked");
    upstream.insert("via", "1.1 cache");
    upstream.set(http::field::keep_alive, "timeout=5");
    upstream.insert("set-cookie", "a=1");
    upstream.insert("Set-Cookie", "b=2");
    upstream.insert("X-Empty", "");
    const std::vector<client_response_options> framings{
        response_options(true, std::nullopt, true),   response_options(false, 100, true),
        response_options(false, 0, false),            response_options(false, std::nullopt, false),
        response_options(false, 98765432109, true),
    };
    for (const auto& options : framings) {
        std::string mine;
        render_client_response(upstream, options, mine);
        EXPECT_EQ(mine, edited_copy(upstream, options));
    }
    // The reason: the upstream's own, or the standard one (Beast's serializer does the same).
    for (const char* reason : {"", "Everything Is Fine"}) {
        for (const unsigned code : {404U, 599U, 304U}) {
            http::response_header<> other;
            other.result(code);
            other.reason(reason);
            other.version(10);
            other.set(http::field::content_length, "12");
            std::string mine;
            render_client_response(other, framings[2], mine);
            EXPECT_EQ(mine, edited_copy(other, framings[2])) << code << " '" << reason << "'";
        }
    }
    std::string mine;
    render_client_response(upstream, framings[0], mine);
    EXPECT_EQ(mine,
              "HTTP/1.1 200 OK\r\n"
              "Server: backend\r\n"
              "set-cookie: a=1\r\n"
              "Set-Cookie: b=2\r\n"
              "X-Empty: \r\n"
              "Via: 1.1 cache, 1.1 danegate\r\n"
              "Transfer-Encoding: chunked\r\n"
              "\r\n");
}

TEST(http_rules, responses_with_conflicting_framing_are_rejected)
{
    http::response_header<> response;
    response.result(http::status::ok);
    response.version(11);
    response.set(http::field::content_length, "5");
    EXPECT_FALSE(check_response(response));
    response.set(http::field::transfer_encoding, "chunked");
    EXPECT_TRUE(check_response(response));

    http::response_header<> old_chunked;
    old_chunked.result(http::status::ok);
    old_chunked.version(10);
    old_chunked.set(http::field::transfer_encoding, "chunked");
    EXPECT_TRUE(check_response(old_chunked)) << "RFC 9112 §6.1: no Transfer-Encoding in HTTP/1.0";

    http::response_header<> switching;
    switching.result(http::status::switching_protocols);
    switching.version(11);
    EXPECT_TRUE(check_response(switching)) << "we never asked for an upgrade";

    http::response_header<> gzip;
    gzip.result(http::status::ok);
    gzip.version(11);
    gzip.set(http::field::transfer_encoding, "gzip");
    EXPECT_TRUE(check_response(gzip));
}

}  // namespace
}  // namespace danegate::proxy
