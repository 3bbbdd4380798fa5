// Benchmark for the header rewriting every proxied HTTP request goes through (issue #5 §2): what
// http_session's do_write_request_header (proxy/http_session.cpp) does before it forwards a
// request upstream, which is one call of render_upstream_request (proxy/http_rules.hpp) from the
// parsed request into the string the session writes: request line, the client's fields without
// the hop-by-hop ones, X-Forwarded-For/-Proto/-Host, Via, and the framing (none here: a GET
// without a body).
//
// The request is what a browser sends for a page (11 fields, cookies, a hop-by-hop field named in
// Connection), parsed once before the loop by the same parser type the session uses
// (http::request_parser<buffer_body>). Parsing it, routing and the WebSocket branch are not
// timed. The bytes are checked once before the loop (hop-by-hop fields gone, X-Forwarded-* and
// Via present, end-to-end fields kept, 13 fields).
//
//   BM_render_upstream_request   the rewriting and rendering above, into a reused string
#include "proxy/http_rules.hpp"

#include <benchmark/benchmark.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>

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
    std::size_t lines = 0;
    for (auto at = wire.find("\r\n"); at != std::string::npos; at = wire.find("\r\n", at + 2)) {
        ++lines;
    }
    // The request line, 11 received - Connection - X-Trace-Hop + X-Forwarded-For, -Proto, -Host
    // + Via, and the blank line.
    if (!wire.starts_with("GET /dashboard/overview?tab=usage&range=7d HTTP/1.1\r\n") || !wire.ends_with("\r\n\r\n") ||
        wire.find("\r\nConnection:") != std::string::npos || wire.find("X-Trace-Hop") != std::string::npos ||
        wire.find("\r\nCookie: session=") == std::string::npos ||
        wire.find("\r\nX-Forwarded-For: 203.0.113.7\r\n") == std::string::npos ||
        wire.find("\r\nX-Forwarded-Host: app.corp.example:8443\r\n") == std::string::npos ||
        wire.find("\r\nVia: 1.1 danegate\r\n") == std::string::npos || lines != 15) {
        return "unexpected header on the wire: " + wire;
    }
    return {};
}

void BM_render_upstream_request(benchmark::State& state)
{
    http::request_parser<http::buffer_body> parser;  // Beast's parsers cannot be moved
    std::string host;
    if (!prepare(state, parser, host)) {
        return;
    }
    upstream_request_options options;
    options.client_address = client_ip;
    options.host = host;
    std::string wire;
    render_upstream_request(parser.get(), options, wire);
    if (const auto error = check_wire(wire); !error.empty()) {
        state.SkipWithError(error.c_str());
        return;
    }
    const std::size_t wire_size = wire.size();
    for (auto _ : state) {
        render_upstream_request(parser.get(), options, wire);
        benchmark::DoNotOptimize(wire.data());
    }
    state.counters["header_bytes"] = static_cast<double>(wire_size);
}
BENCHMARK(BM_render_upstream_request);

}  // namespace
}  // namespace danegate::proxy
