// The HTTP/1.1 bytes danegate writes itself rather than through Beast's serializer: a response's
// head (status line, fields, blank line) and the chunked coding's delimiters, written into one
// string that goes out in one write. Beast's serializer produces the same bytes
// (tests/proxy/wire_format_test.cpp) through a buffer sequence whose iteration cost ~1.8 µs more
// per header. The upstream request's head is rendered by http_rules' render_upstream_request,
// which applies the relay's rules as it writes.
#pragma once

#include <boost/beast/http/message.hpp>

#include <cstddef>
#include <string>

namespace danegate::proxy {

/**
 * Replaces @p out with @p response's head: "HTTP/1.x NNN reason" (the standard reason when the
 * message has none, as Beast writes it), "Name: value" lines, CRLF.
 */
void render_response_head(const boost::beast::http::response_header<>& response, std::string& out);

/** Appends one chunk of the chunked coding (RFC 9112 §7.1): size in hex, CRLF, the data, CRLF. */
void append_chunk(std::string& out, const char* data, std::size_t size);

/** Appends the last chunk and the end of an empty trailer section: "0\r\n\r\n". */
void append_last_chunk(std::string& out);

}  // namespace danegate::proxy
