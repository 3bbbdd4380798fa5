// Benchmarks for the header rewriting every proxied HTTP request goes through (issue #5 §2): what
// downstream_http_session::do_write_request_header (proxy/http_session.cpp) does before it
// forwards a request upstream. That member function is private to the session, so its body is
// repeated here step for step, calling the same public rules from proxy/http_rules.hpp:
//
//   a fresh http::request<buffer_body> in the session's std::optional (emplace), method, target,
//   version 1.1, every received field inserted, remove_hop_by_hop, Content-Length and Expect
//   erased, add_forwarding_headers (X-Forwarded-For/-Proto/-Host and Via), the framing taken from
//   the parser (none here: a GET without a body), and the body set to "header only".
//
// The request is what a browser sends for a page (11 fields, cookies, a hop-by-hop field named in
// Connection), parsed once before the loop by the same parser type the session uses
// (http::request_parser<buffer_body>). Parsing it, routing and the WebSocket branch are not
// timed. The rewritten header is checked once before the loop (hop-by-hop fields gone,
// X-Forwarded-* and Via present, end-to-end fields kept).
//
//   BM_rewrite_request_header              the rewriting above, nothing else
//   BM_rewrite_and_serialize_request_header  the same, then the serializer the session makes for a
//                                          request with a body and http::write_header into a
//                                          memory buffer (what async_write_header hands to the
//                                          socket), no socket
//   BM_rewrite_and_render_request_header   the same, then render_request_head into a string: what
//                                          the session writes for a request without a body
#include "proxy/http_rules.hpp"
#include "proxy/wire_format.hpp"

#include <benchmark/benchmark.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace danegate::proxy {
namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using error_code = boost::system::error_code;

// Firefox asking for a page of an application behind danegate. "X-Trace-Hop" is listed in
// Connection, so RFC 9110 §7.6.1 makes it hop-by-hop: it must not reach the upstream.
constexpr std::string_view browser_request =
    "GET /dashboard/overview?tab=usage&range=7d HTTP/1.1\r\n"
    "Host: app.corp.example:8443\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Accept-Language: en-GB,en;q=0.7,de;q=0.3\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://app.corp.example:8443/dashboard\r\n"
    "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Connection: keep-alive, X-Trace-Hop\r\n"
    "X-Trace-Hop: 7c1d\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "\r\n";

constexpr std::string_view client_ip = "203.0.113.7";

/** A SyncWriteStream that appends to a string: the socket of async_write_header, in memory. */
class string_sink {
public:
    explicit string_sink(std::string& out) : out_(out) {}

    template <class ConstBufferSequence>
    std::size_t write_some(const ConstBufferSequence& buffers, error_code& ec)
    {
        ec = {};
        std::size_t written = 0;
        for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
            const net::const_buffer buffer = *it;
            out_.append(static_cast<const char*>(buffer.data()), buffer.size());
            written += buffer.size();
        }
        return written;
    }

    template <class ConstBufferSequence>
    std::size_t write_some(const ConstBufferSequence& buffers)
    {
        error_code ec;
        return write_some(buffers, ec);
    }

private:
    std::string& out_;
};

/** Parses the browser request into @p parser as the session does; false with @p error if it fails. */
bool parse_request(http::request_parser<http::buffer_body>& parser, std::string& error)
{
    error_code ec;
    parser.put(net::buffer(browser_request.data(), browser_request.size()), ec);
    if (ec || !parser.is_header_done() || !parser.is_done()) {
        error = "the browser request did not parse: " + ec.message();
        return false;
    }
    return true;
}

/** do_write_request_header's rewriting of @p parser's request into @p upstream_request. */
void rewrite(const http::request_parser<http::buffer_body>& parser, std::string_view host,
             std::optional<http::request<http::buffer_body>>& upstream_request)
{
    const auto& in = parser.get();
    upstream_request.emplace();
    auto& out = *upstream_request;
    out.method(in.method());
    if (in.method() == http::verb::unknown) {
        out.method_string(in.method_string());
    }
    out.target(in.target());
    out.version(11);
    for (const auto& field : in.base()) {
        out.insert(field.name_string(), field.value());
    }
    remove_hop_by_hop(out.base());
    out.erase(http::field::content_length);
    out.erase(http::field::expect);
    add_forwarding_headers(out.base(), client_ip, host, in.version());
    if (parser.chunked()) {
        out.chunked(true);
    } else if (const auto length = parser.content_length()) {
        out.content_length(*length);
    }
    out.body().data = nullptr;
    out.body().more = true;
}

/** http::write_header of @p request, as the session's serializer does it, appended to @p out. */
bool serialize_header(http::request<http::buffer_body>& request,
                      std::optional<http::request_serializer<http::buffer_body>>& serializer, std::string& out)
{
    serializer.emplace(request);
    string_sink sink(out);
    error_code ec;
    http::write_header(sink, *serializer, ec);
    return !ec && serializer->is_header_done();
}

/** Empty when @p header is the expected rewrite of browser_request, else what is wrong. */
std::string check_rewrite(const http::request<http::buffer_body>& header)
{
    const auto& f = header.base();
    if (f.count(http::field::connection) != 0 || f.count("X-Trace-Hop") != 0) {
        return "a hop-by-hop field was forwarded";
    }
    if (f["X-Forwarded-For"] != client_ip || f["X-Forwarded-Proto"] != "https" ||
        f["X-Forwarded-Host"] != "app.corp.example:8443" || f[http::field::via] != "1.1 danegate") {
        return "X-Forwarded-* or Via missing or wrong";
    }
    if (f[http::field::host] != "app.corp.example:8443" || f.count(http::field::cookie) != 1 ||
        f.count(http::field::user_agent) != 1 || header.target() != "/dashboard/overview?tab=usage&range=7d" ||
        header.version() != 11) {
        return "an end-to-end field or the request line was lost";
    }
    // 11 received - Connection - X-Trace-Hop + X-Forwarded-For, -Proto, -Host + Via.
    std::size_t fields = 0;
    for (auto it = f.begin(); it != f.end(); ++it) {
        ++fields;
    }
    if (fields != 13) {
        return "expected 13 fields upstream, got " + std::to_string(fields);
    }
    return {};
}

/**
 * Parses browser_request into @p parser and takes its Host, as the session does once for routing
 * and the access log; false (the benchmark skipped with the reason) when that fails.
 */
bool prepare(benchmark::State& state, http::request_parser<http::buffer_body>& parser, std::string& host)
{
    std::string error;
    if (!parse_request(parser, error)) {
        state.SkipWithError(error.c_str());
        return false;
    }
    host = std::string(parser.get()[http::field::host]);
    return true;
}

/** Empty when @p wire is the expected rewrite of browser_request on the wire, else what is wrong. */
std::string check_wire(const std::string& wire)
{
    if (!wire.starts_with("GET /dashboard/overview?tab=usage&range=7d HTTP/1.1\r\n") || !wire.ends_with("\r\n\r\n") ||
        wire.find("\r\nConnection:") != std::string::npos ||
        wire.find("\r\nX-Forwarded-For: 203.0.113.7\r\n") == std::string::npos) {
        return "unexpected header on the wire: " + wire;
    }
    return {};
}

void BM_rewrite_request_header(benchmark::State& state)
{
    http::request_parser<http::buffer_body> parser;  // Beast's parsers cannot be moved
    std::string host;
    if (!prepare(state, parser, host)) {
        return;
    }
    std::optional<http::request<http::buffer_body>> upstream_request;
    rewrite(parser, host, upstream_request);
    if (const auto error = check_rewrite(*upstream_request); !error.empty()) {
        state.SkipWithError(error.c_str());
        return;
    }
    for (auto _ : state) {
        rewrite(parser, host, upstream_request);
        benchmark::DoNotOptimize(upstream_request->base().begin());
    }
}
BENCHMARK(BM_rewrite_request_header);

void BM_rewrite_and_serialize_request_header(benchmark::State& state)
{
    http::request_parser<http::buffer_body> parser;  // Beast's parsers cannot be moved
    std::string host;
    if (!prepare(state, parser, host)) {
        return;
    }
    std::optional<http::request<http::buffer_body>> upstream_request;
    std::optional<http::request_serializer<http::buffer_body>> serializer;
    std::string wire;
    wire.reserve(4096);
    rewrite(parser, host, upstream_request);
    if (!serialize_header(*upstream_request, serializer, wire)) {
        state.SkipWithError("write_header failed");
        return;
    }
    if (const auto error = check_wire(wire); !error.empty()) {
        state.SkipWithError(error.c_str());
        return;
    }
    const std::size_t wire_size = wire.size();
    for (auto _ : state) {
        // Release the serializer before the message it refers to is replaced, as the session's
        // next request does by emplacing both anew.
        serializer.reset();
        wire.clear();
        rewrite(parser, host, upstream_request);
        if (!serialize_header(*upstream_request, serializer, wire)) {
            state.SkipWithError("write_header failed");
            break;
        }
        benchmark::DoNotOptimize(wire.data());
    }
    state.counters["header_bytes"] = static_cast<double>(wire_size);
}
BENCHMARK(BM_rewrite_and_serialize_request_header);

void BM_rewrite_and_render_request_header(benchmark::State& state)
{
    http::request_parser<http::buffer_body> parser;  // Beast's parsers cannot be moved
    std::string host;
    if (!prepare(state, parser, host)) {
        return;
    }
    std::optional<http::request<http::buffer_body>> upstream_request;
    std::string wire;
    wire.reserve(4096);
    rewrite(parser, host, upstream_request);
    render_request_head(*upstream_request, wire);
    if (const auto error = check_wire(wire); !error.empty()) {
        state.SkipWithError(error.c_str());
        return;
    }
    const std::size_t wire_size = wire.size();
    for (auto _ : state) {
        rewrite(parser, host, upstream_request);
        render_request_head(*upstream_request, wire);
        benchmark::DoNotOptimize(wire.data());
    }
    state.counters["header_bytes"] = static_cast<double>(wire_size);
}
BENCHMARK(BM_rewrite_and_render_request_header);

}  // namespace
}  // namespace danegate::proxy
